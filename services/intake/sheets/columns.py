"""The columns of each event type's spreadsheet: Chinese header, field key, kind, help, example.

Envelope fields (``occurred_at``, ``lab_id``) sit beside the type's ``data`` fields; ``event_id`` is never a
column: it is derived from the lab and the row's identity (see ``rows.event_id_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.intake.vocabulary import EVENT_TYPE_NAMES

Kind = Literal["id", "text", "enum", "region", "datetime", "int", "number", "bool", "period"]
ENVELOPE = ("occurred_at", "lab_id")
EXAMPLE_PREFIX = "示例"  # a row whose first cell starts with this is the template's example and is skipped


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    kind: Kind
    required: bool
    help_zh: str
    help_en: str
    example: str


def _occurred(what_zh: str, what_en: str) -> Column:
    return Column("occurred_at", what_zh, "datetime", True,
                  "日期时间，按北京时间；可写 2026-11-20 10:15、2026/11/20 或 Excel 日期；带时区时按所写时区",
                  f"{what_en}: a date and time in China Standard Time (2026-11-20 10:15, 2026/11/20, an Excel date); "
                  "an explicit offset is honoured", "2026-11-20 10:15")


_LAB = Column("lab_id", "实验室编号", "id", False,
              "可不填：默认为上传所用密钥的实验室；填写时必须是本实验室编号（运维人员上传时必填）",
              "optional: the lab of the upload's key; if given it must be that lab (required for operator uploads)",
              "LAB-0001")
_REGION = Column("region", "地区", "region", True,
                 "行政区划代码或名称：320583、昆山市、苏州市昆山市；重名的区（如鼓楼区）须加市名或写代码",
                 "GB/T 2260 code or name: 320583, 昆山市, 苏州市昆山市; a shared name (鼓楼区) needs its city or code",
                 "320583")
_SAMPLE = Column("sample_id", "样品编号", "id", True,
                 "本实验室的样品编号：字母、数字和 . _ : -，最长100个字符",
                 "the lab's sample id: letters, digits, . _ : -",
                 "S-2026-000123")
_PROGRAMME = Column("programme", "抽检计划", "enum", True, "从下拉列表选择，或填写代码",
                    "pick from the list or give the code", "主要地产农产品质量例行监测")
_CATEGORY = Column("category", "产品类别", "enum", True, "从下拉列表选择（须属于所选抽检计划），或填写代码",
                   "pick from the list (a category of the programme) or give the code", "蔬菜")
_REVISION = Column("revision", "修订号", "int", False,
                   "可不填（默认1）；更正已上报的结果时填写更大的修订号",
                   "optional, default 1; to correct an accepted result, send it again with a higher revision", "1")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "inspection.completed": (
        _SAMPLE, _PROGRAMME, _CATEGORY, _REGION,
        Column("verdict", "检验结论", "enum", True, "合格 或 不合格", "pass (合格) or fail (不合格)", "合格"),
        _occurred("检验完成时间", "when the inspection was completed"), _REVISION, _LAB),
    "sample.collected": (
        _SAMPLE, _PROGRAMME, _CATEGORY, _REGION, _occurred("抽样时间", "when the sample was collected"),
        Column("enterprise_id", "受检企业编号", "id", False, "可不填", "optional", "E-320583-0001"), _LAB),
    "acceptance.completed": (
        Column("project_id", "工程项目编号", "id", True, "工程项目编号", "the project's id", "P-2026-0042"),
        Column("size", "工程规模", "enum", True, "大型、中型 或 小型", "large, medium or small", "大型"),
        _REGION,
        Column("first_time_pass", "一次验收合格", "bool", True, "是 或 否", "yes (是) or no (否)", "是"),
        _occurred("验收时间", "when the acceptance inspection took place"), _REVISION, _LAB),
    "figure.reported": (
        Column("indicator", "指标", "enum", True, "从下拉列表选择，或填写指标代码", "pick from the list or give the id",
               "主要地产农产品“三品”产量占比"),
        _REGION,
        Column("period", "统计期", "period", True, "2026-11（月）、2026-Q4（季）或 2026（年）",
               "2026-11 (month), 2026-Q4 (quarter) or 2026 (year)", "2026-Q4"),
        Column("numerator", "分子", "int", False, "比例类指标填写分子和分母", "shares: numerator and denominator",
               "560"),
        Column("denominator", "分母", "int", False, "比例类指标填写分子和分母", "shares: numerator and denominator",
               "1000"),
        Column("value", "数值", "number", False, "数值类指标只填数值", "values: the value only", ""),
        _occurred("上报时间", "when the figure was established"), _LAB),
    "survey.scored": (
        Column("sector", "行业", "enum", True, "生产性服务业 或 生活性服务业", "producer or consumer services",
               "生活性服务业"),
        _REGION,
        Column("score", "得分", "number", True, "0 到 100", "0 to 100", "82.5"),
        Column("respondents", "样本量", "int", True, "受访人数，至少1", "respondents, at least 1", "400"),
        _occurred("测评时间", "when the survey was scored"), _LAB),
    "milestone.reported": (
        Column("indicator", "指标", "enum", True, "从下拉列表选择，或填写指标代码", "pick from the list or give the id",
               "新增主导和参与制定国际标准"),
        _REGION,
        Column("count", "数量", "int", True, "新增数量，至少1", "how many new, at least 1", "1"),
        Column("reference", "依据", "text", False, "文号等，可不填", "reference, optional", "ISO 12345:2026"),
        _occurred("达成时间", "when it was achieved"), _LAB),
}
SHEET_NAMES: dict[str, str] = {event_type: EVENT_TYPE_NAMES[event_type] for event_type in COLUMNS}
EXAMPLE_IDS = {"sample_id": "示例-S-0001", "project_id": "示例-P-0001"}


def event_type_for_sheet(name: str) -> str | None:
    """The event type a sheet's name stands for (its Chinese name or the type itself), or None."""
    text = name.strip()
    for event_type, zh in SHEET_NAMES.items():
        if text in (event_type, zh):
            return event_type
    return None


def column_for(header: str, columns: tuple[Column, ...]) -> Column | None:
    """The column a header cell names: ``样品编号``, ``sample_id``, ``样品编号\\nsample_id`` or
    ``样品编号 / sample_id``."""
    parts = {part.strip() for part in header.replace("/", "\n").splitlines() if part.strip()}
    for column in columns:
        if column.zh in parts or column.key in parts:
            return column
    return None
