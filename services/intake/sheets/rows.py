"""From a read table to the events the API would accept, or to every problem located by sheet, row, column.

A row's ``event_id`` is derived from the lab and the row's identity (event type, the sample or project id and
its revision; for figures the indicator, region and period), so the same file uploaded twice counts nothing
twice, and a row changed under the same identity is a conflict named by its row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from services.intake.sheets.columns import COLUMNS, ENVELOPE, EXAMPLE_PREFIX, SHEET_NAMES, Column, column_for
from services.intake.sheets.reading import FileRefused, Problem, Table, column_letter
from services.intake.vocabulary import EVENT_TYPE_NAMES, choices, code_for, listed
from shared.catalogue import Catalogue
from shared.clock import CST
from shared.explained import Explained

_MEMO_KINDS = frozenset({"enum", "region", "datetime", "bool"})
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_TEXT_DATES = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日",
               "%Y.%m.%d %H:%M", "%Y.%m.%d")


@dataclass(slots=True)
class RowEvent:
    row: int  # the row number as Excel shows it
    event: dict[str, Any]
    identity: str


@dataclass(slots=True)
class Converted:
    event_type: str
    sheet: str
    columns: dict[str, tuple[int, Column]]  # field key → (column index, column)
    events: list[RowEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    foreign: list[Problem] = field(default_factory=list)  # rows naming another lab (403)
    memo: dict[tuple[Any, ...], tuple[Any, ValueError | None]] = field(default_factory=dict)

    def cell(self, row: int, key: str | None, message: str, message_zh: str, value: Any = None) -> Problem:
        index, column = self.columns.get(key or "", (None, None))
        return Problem(message, message_zh, sheet=self.sheet, row=row,
                       column=column_letter(index) if index is not None else None, field=key,
                       header=column.zh if column else None, value=None if value is None else str(value)[:200])


def event_id_for(lab_id: str, event_type: str, identity: str) -> str:
    """``upl-`` and 40 hex digits of SHA-256 over the lab, the type and the row's identity."""
    digest = hashlib.sha256(f"{lab_id}\x1f{event_type}\x1f{identity}".encode()).hexdigest()
    return f"upl-{digest[:40]}"


def convert(table: Table, catalogue: Catalogue, *, lab_id: str | None, requested_type: str | None) -> Converted:
    """Every data row as an event (``lab_id`` is the key's lab; None for an operator, whose rows must name it)."""
    if not table.rows:
        raise FileRefused(422, "the file holds no rows (not even a header)", "文件中没有任何数据（连表头也没有）")
    header_number, headers = table.rows[0]
    event_type = requested_type or table.event_type or _guess_type(headers)
    columns = COLUMNS[event_type]
    converted = Converted(event_type, table.sheet, {})
    problems = converted.problems
    for index, header in enumerate(headers):
        if header is None:
            continue
        column = column_for(str(header), columns)
        if column is None:
            problems.append(Problem(f"unknown column {str(header)[:100]!r}; the columns of {event_type} are "
                                    f"{', '.join(c.zh + ' ' + c.key for c in columns)}",
                                    f"不认识的列“{str(header)[:100]}”；{EVENT_TYPE_NAMES[event_type]}的列为："
                                    f"{'、'.join(c.zh for c in columns)}",
                                    sheet=table.sheet, row=header_number, column=column_letter(index),
                                    header=str(header)[:100]))
        elif column.key in converted.columns:
            problems.append(Problem(f"column {column.zh} ({column.key}) appears twice", f"“{column.zh}”列重复",
                                    sheet=table.sheet, row=header_number, column=column_letter(index),
                                    field=column.key, header=column.zh))
        else:
            converted.columns[column.key] = (index, column)
    for column in columns:
        if column.required and column.key not in converted.columns:
            problems.append(Problem(f"missing column {column.zh} ({column.key})",
                                    f"缺少“{column.zh}”列（{column.key}）",
                                    sheet=table.sheet, row=header_number, field=column.key, header=column.zh))
    if lab_id is None and "lab_id" not in converted.columns:
        problems.append(Problem("an operator's upload must name the lab of every row in column 实验室编号 (lab_id)",
                                "运维人员上传时须填写“实验室编号”列", sheet=table.sheet, row=header_number,
                                field="lab_id", header="实验室编号"))
    if problems:
        return converted
    data_rows = table.rows[1:]
    table.rows.clear()  # each row's cells are let go once it is an event (peak memory: one copy, not two)
    if data_rows and _is_key_row(data_rows[0][1], columns):
        data_rows = data_rows[1:]
    if not data_rows:
        raise FileRefused(422, "the file has a header but no data rows", "文件只有表头，没有数据行",
                          [Problem("no data rows", "没有数据行", sheet=table.sheet, row=header_number)])
    data_rows.reverse()
    while data_rows:
        number, values = data_rows.pop()
        first = next((v for v in values if v is not None), None)
        if isinstance(first, str) and first.strip().startswith(EXAMPLE_PREFIX):
            continue  # the template's example row
        _convert_row(converted, catalogue, table, number, values, lab_id)
    if not converted.events and not converted.problems and not converted.foreign:
        raise FileRefused(422, "the file has no data rows besides the example", "文件除示例行外没有数据行")
    return converted


def _guess_type(headers: list[Any]) -> str:
    """The event type whose columns the headers match best (a CSV has no sheet name to say it)."""
    def score(event_type: str) -> tuple[int, int]:
        columns = COLUMNS[event_type]
        found = {c.key for h in headers if h is not None for c in [column_for(str(h), columns)] if c}
        missing = sum(1 for c in columns if c.required and c.key not in found)
        unknown = sum(1 for h in headers if h is not None and column_for(str(h), columns) is None)
        return (missing + unknown, -len(found))
    return min(COLUMNS, key=score)


def _is_key_row(values: list[Any], columns: tuple[Column, ...]) -> bool:
    keys = {c.key for c in columns}
    filled = [v for v in values if v is not None]
    return bool(filled) and all(isinstance(v, str) and v.strip() in keys for v in filled)


def _convert_row(out: Converted, catalogue: Catalogue, table: Table, number: int, values: list[Any],
                 lab_id: str | None) -> None:
    event: dict[str, Any] = {"type": out.event_type}
    data: dict[str, Any] = {}
    failed = False
    for key, (index, column) in out.columns.items():
        raw = values[index] if index < len(values) else None
        if (number, index) in table.formula_without_value:
            out.problems.append(out.cell(number, key, "a formula without a calculated value: open the file in Excel, "
                                         "let it calculate and save, or type the value", "公式没有计算结果：请在 Excel "
                                         "中重新计算并保存，或直接填写数值"))
            failed = True
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if column.required:
                out.problems.append(out.cell(number, key, f"{column.zh} ({key}) is empty; it is required",
                                             f"“{column.zh}”为必填项，不能为空"))
                failed = True
            continue
        try:
            if column.kind in _MEMO_KINDS:  # the same few names, codes and dates recur row after row
                memo_key = (key, type(raw), raw, data.get("programme") if key == "category" else None)
                found = out.memo.get(memo_key)
                if found is None:
                    try:
                        found = out.memo[memo_key] = (_value(column, raw, catalogue, data, out.event_type), None)
                    except ValueError as exc:
                        found = out.memo[memo_key] = (None, exc)
                if found[1] is not None:
                    raise found[1]
                value = found[0]
            else:
                value = _value(column, raw, catalogue, data, out.event_type)
        except ValueError as exc:
            chinese = exc.message_zh if isinstance(exc, Explained) else f"无效（{exc}）"
            out.problems.append(out.cell(number, key, str(exc), chinese, raw))
            failed = True
            continue
        (event if key in ENVELOPE else data)[key] = value
    row_lab = event.get("lab_id")
    if lab_id is not None:
        if row_lab is not None and row_lab != lab_id:
            out.foreign.append(out.cell(number, "lab_id", f"this key reports for lab {lab_id!r} only; the row names "
                                        f"{str(row_lab)[:100]!r}", f"此密钥只能上报实验室 {lab_id} 的数据，本行为 "
                                        f"{str(row_lab)[:100]}", row_lab))
            return
        event["lab_id"] = lab_id
    if failed:
        return
    identity = _identity(out.event_type, data, event)
    event["event_id"] = event_id_for(str(event.get("lab_id")), out.event_type, identity)
    event["data"] = data
    out.events.append(RowEvent(number, event, identity))


def _identity(event_type: str, data: dict[str, Any], event: dict[str, Any]) -> str:
    match event_type:
        case "inspection.completed" | "sample.collected":
            return f"{data.get('sample_id')}\x1fr{data.get('revision', 1)}"
        case "acceptance.completed":
            return f"{data.get('project_id')}\x1fr{data.get('revision', 1)}"
        case "figure.reported":
            return f"{data.get('indicator')}\x1f{data.get('region')}\x1f{data.get('period')}"
        case "milestone.reported":
            return f"{data.get('indicator')}\x1f{data.get('region')}\x1f{data.get('reference') or event['occurred_at']}"
        case _:
            return f"{data.get('sector')}\x1f{data.get('region')}\x1f{event['occurred_at']}"


# ---- one cell -------------------------------------------------------------------------------------------
def _value(column: Column, raw: Any, catalogue: Catalogue, data: dict[str, Any], event_type: str) -> Any:
    match column.kind:
        case "id" | "text":
            return _text(raw)
        case "enum":
            values = choices(column.key, catalogue, event_type=event_type, programme=data.get("programme"))
            code = code_for(_text(raw), values)
            if code is None:
                raise Explained(f"{_text(raw)!r} is not one of {listed(values)}",
                                 f"“{_text(raw)}”无效；可选值：{listed(values)}")
            return code
        case "region":
            text = _text(raw)
            match = re.match(r"^(\d{6})(\s|$)", text)
            return catalogue.find_region(match.group(1) if match else text)
        case "datetime":
            return _instant(raw).isoformat()
        case "int":
            return _integer(raw)
        case "number":
            return _number(raw)
        case "bool":
            return _boolean(raw)
        case "period":
            return _period(raw)
    raise AssertionError(column.kind)


def _text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # an id typed as a number: 12345, not 12345.0
    if isinstance(raw, dt.datetime | dt.date):
        return raw.isoformat()
    return str(raw).strip()


def _instant(raw: Any) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, dt.date):
        value = dt.datetime(raw.year, raw.month, raw.day)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        if not 1 <= raw < 2_958_465 or math.isnan(raw):  # up to 9999-12-30, so rounding cannot overflow
            raise Explained(f"{raw!r} is not a date", f"“{raw}”不是日期")
        # an Excel serial date, to the nearest millisecond: files keep 15 digits, so 10:15 is stored as
        # 10:14:59.999997 (LibreOffice, Excel), which rounds up across the second
        value = _EXCEL_EPOCH + dt.timedelta(milliseconds=round(float(raw) * 86_400_000))
    else:
        value = _parse_text_date(str(raw).strip())
    return value if value.tzinfo else value.replace(tzinfo=CST)


def _parse_text_date(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in _TEXT_DATES:
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise Explained(f"{text[:50]!r} is not a date and time (write 2026-11-20 10:15 or 2026/11/20)",
                     f"“{text[:50]}”不是日期时间（请写成 2026-11-20 10:15 或 2026/11/20）")


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise Explained("must be a whole number", "应为整数")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip().replace(",", "")
    if re.fullmatch(r"[+-]?\d{1,15}(\.0+)?", text):
        return int(float(text))
    raise Explained(f"{str(raw)[:50]!r} is not a whole number", f"“{str(raw)[:50]}”不是整数")


def _number(raw: Any) -> float | int:
    if isinstance(raw, bool):
        raise Explained("must be a number", "应为数字")
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise Explained("must be a number", "应为数字")
        return raw
    text = str(raw).strip().replace(",", "")
    if re.fullmatch(r"[+-]?(\d{1,15}(\.\d*)?|\.\d+)", text):
        return float(text)
    raise Explained(f"{str(raw)[:50]!r} is not a number", f"“{str(raw)[:50]}”不是数字")


_TRUE = {"是", "true", "yes", "y", "1", "合格", "通过"}
_FALSE = {"否", "false", "no", "n", "0", "不合格", "未通过"}


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _text(raw).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Explained(f"{_text(raw)[:50]!r} is not yes or no (是 / 否)", f"“{_text(raw)[:50]}”应为 是 或 否")


def _period(raw: Any) -> str:
    if isinstance(raw, dt.datetime | dt.date):
        return f"{raw.year:04d}-{raw.month:02d}"  # Excel turned 2026-11 into a date
    text = _text(raw)
    if re.fullmatch(r"\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?", text):
        return text
    raise Explained(f"{text[:50]!r} is not a period (2026-11, 2026-Q4 or 2026)",
                     f"“{text[:50]}”不是统计期（应为 2026-11、2026-Q4 或 2026）")


def sheet_name(event_type: str) -> str:
    return SHEET_NAMES[event_type]
