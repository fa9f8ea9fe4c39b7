"""The valid values of every enumerated event field, each with its Chinese name.

Error answers list them whatever was sent (a Chinese name, a typo, a number), templates offer them as
drop-down lists, and spreadsheet cells may hold either the code or the Chinese name.
"""

from __future__ import annotations

from shared.catalogue import Catalogue

Choice = tuple[str, str]  # (code, Chinese name)

EVENT_TYPE_NAMES: dict[str, str] = {
    "sample.collected": "抽样",
    "inspection.completed": "检验结果",
    "acceptance.completed": "工程验收",
    "figure.reported": "统计数据上报",
    "survey.scored": "满意度测评",
    "milestone.reported": "里程碑上报",
}
FIXED: dict[str, tuple[Choice, ...]] = {
    "verdict": (("pass", "合格"), ("fail", "不合格")),
    "size": (("large", "大型"), ("medium", "中型"), ("small", "小型")),
    "sector": (("producer_services", "生产性服务业"), ("consumer_services", "生活性服务业")),
    "first_time_pass": (("true", "是"), ("false", "否")),
}
ENUMERATED = ("type", "programme", "category", "verdict", "size", "sector", "indicator")


def choices(field: str, catalogue: Catalogue, *, event_type: str | None = None,
            programme: str | None = None) -> tuple[Choice, ...]:
    """The valid values of ``field`` (empty when it is not enumerated). ``category`` is narrowed to the
    programme's when the programme is known; ``indicator`` to what the event type reports."""
    if field == "type":
        return tuple(EVENT_TYPE_NAMES.items())
    if field in FIXED:
        return FIXED[field]
    if field == "programme":
        return tuple((code, spec.name or code) for code, spec in catalogue.programmes.items())
    if field == "category":
        spec = catalogue.programmes.get(programme or "")
        codes = spec.categories if spec else tuple(dict.fromkeys(
            c for p in catalogue.programmes.values() for c in p.categories))
        return tuple((code, catalogue.category_name(code)) for code in codes)
    if field == "indicator":
        source = {"figure.reported": "figure", "milestone.reported": "milestone"}.get(event_type or "")
        return tuple((spec.id, spec.name_zh) for spec in catalogue.indicators
                     if source is None or spec.source == source)
    return ()


def listed(values: tuple[Choice, ...]) -> str:
    """``pass (合格), fail (不合格)``"""
    return ", ".join(f"{code} ({name})" if name != code else code for code, name in values)


def code_for(value: str, values: tuple[Choice, ...]) -> str | None:
    """The code a cell means: the code itself, its Chinese name, or ``code (name)`` as a drop-down shows it."""
    text = value.strip()
    for code, name in values:
        if text in (code, name, f"{code} ({name})") or text.casefold() == code.casefold():
            return code
    return None
