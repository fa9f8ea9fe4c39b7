"""Turning parsed JSON into validated events, or into a list of every problem found.

Problem paths are JSON paths relative to the event (``$.data.verdict``) with the event's index in
the request (0 on the single-event endpoint); problems with the request envelope itself have
``index: null``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from services.intake.errors import Rejection
from services.intake.vocabulary import ENUMERATED, Choice, choices, code_for, listed
from shared.auth import Principal
from shared.catalogue import Catalogue
from shared.events import EVENT_TYPES, Event, EventContext, SurveyScoredEvent, error_path, parse_events
from shared.explained import Explained


def problem(index: int | None, path: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"index": index, "path": path, "message": message, **extra}


def invalid(problems: list[dict[str, Any]], events: int) -> Rejection:
    count = len({p["index"] for p in problems})
    what = "event is" if count == 1 else "events are"
    return Rejection(422, "invalid", f"{count} {what} invalid; nothing was accepted", events=events,
                     errors=problems)


def single_event(payload: Any) -> list[Any]:
    if isinstance(payload, list) or (isinstance(payload, dict) and "events" in payload and "type" not in payload):
        raise invalid([problem(0, "$", 'this is a batch of events: post it to /v1/events/batch as {"events": [...]}; '
                                       "/v1/events takes one event",
                               message_zh='这是一批事件：请以 {"events": [...]} 提交到 /v1/events/batch；'
                                          "/v1/events 只接收单个事件")], 1)
    if not isinstance(payload, dict):
        raise invalid([problem(0, "$", "must be a JSON object (one event)",
                               message_zh="应为一个 JSON 对象（单个事件）")], 1)
    return [payload]


def batch_events(payload: Any, max_events: int) -> list[Any]:
    if isinstance(payload, list):
        raise invalid([problem(None, "$", 'must be a JSON object {"events": [...]}: wrap the list of events as '
                                          '{"events": [...]} (one event alone goes to /v1/events)',
                               message_zh='应为 JSON 对象 {"events": [...]}：请把事件列表放在 "events" 中'
                                          "（单个事件请提交到 /v1/events）")], 1)
    if isinstance(payload, dict) and "type" in payload and "events" not in payload:
        raise invalid([problem(None, "$", 'must be a JSON object {"events": [...]}: this is one event; post it to '
                                          '/v1/events, or wrap it as {"events": [event]}',
                               message_zh='应为 JSON 对象 {"events": [...]}：这是单个事件，请提交到 /v1/events，'
                                          '或写成 {"events": [事件]}')], 1)
    if not isinstance(payload, dict):
        raise invalid([problem(None, "$", 'must be a JSON object {"events": [...]}')], 1)
    extra = sorted(set(payload) - {"events"})
    problems = [problem(None, f"$.{key}", "unexpected field") for key in extra]
    events = payload.get("events")
    if "events" not in payload:
        problems.append(problem(None, "$.events", "missing"))
    elif not isinstance(events, list):
        problems.append(problem(None, "$.events", "must be a list of events"))
    elif not 1 <= len(events) <= max_events:
        problems.append(problem(None, "$.events", f"must hold 1 to {max_events} events (got {len(events)})"))
    if isinstance(events, list) and not problems:
        return events
    raise invalid(problems, len(events) if isinstance(events, list) else 1)


def check_scope(principal: Principal, objects: Sequence[Any]) -> None:
    """A lab key posts only its own lab's events, an agency key only events whose ``lab_id`` (the reporting
    body) is its agency; operators anything. What each may report is ``check_reach``'s."""
    if principal.is_operator:
        return
    if principal.role == "lab":
        own, whose = principal.lab_id, "lab"
    elif principal.role == "agency":
        own, whose = principal.agency_id, "agency"
    else:
        raise Rejection(403, "forbidden", f"a {principal.role} key may not post events", events=len(objects))
    foreign = [i for i, obj in enumerate(objects)
               if isinstance(obj, dict) and obj.get("lab_id") != own and "lab_id" in obj]
    if foreign:
        first = objects[foreign[0]]["lab_id"]
        shown = ", ".join(str(i) for i in foreign[:20]) + (" ..." if len(foreign) > 20 else "")
        raise Rejection(403, "forbidden",
                        f"this key may post only events of {whose} {own!r}; event index {shown} "
                        f"names lab {str(first)[:100]!r}", events=len(objects), indexes=foreign)


# Who reports what. Labs report what they sampled and tested (and an enterprise's objection to a failing
# result, which the testing lab records against its own sample); reported figures, surveys and milestones
# are statements of the agencies responsible for the indicator.
LAB_EVENTS = frozenset({"sample.collected", "inspection.completed", "inspection.objected", "acceptance.completed"})
AGENCY_EVENTS = frozenset({"figure.reported", "survey.scored", "milestone.reported"})

# rule → (English, Chinese); {placeholders} from the refused event.
REACH_RULES: dict[str, tuple[str, str]] = {
    "agency_statement": (
        "{type} is an agency's statement: post it with an agency key of the agency responsible for the "
        "indicator (its lead or other agencies), not with a lab key",
        "{type} 属于主管部门上报的数据：请使用负责该指标的部门（牵头或配合部门）的密钥上报，检验机构密钥不能上报"),
    "lab_result": (
        "{type} is a lab's result: post it with the lab's own key, not with an agency key",
        "{type} 属于检验机构的检验结果：请使用该检验机构自己的密钥上报，部门密钥不能上报"),
    "programme_not_accredited": (
        "this lab key is accredited for programmes {allowed}, not for {programme!r}: ask the operator for a key "
        "that covers it",
        "该检验机构密钥获准的抽检计划为 {allowed}，不包括 {programme!r}：如需上报，请向系统管理员申请相应授权"),
    "region_not_accredited": (
        "this lab key is accredited for regions {allowed}, not for {region!r}: ask the operator for a key "
        "that covers it",
        "该检验机构密钥获准的地区为 {allowed}，不包括 {region!r}：如需上报，请向系统管理员申请相应授权"),
    "not_responsible": (
        "agency {agency!r} is not responsible for indicator {indicator!r} (responsible: {allowed}): "
        "the lead or another responsible agency reports it",
        "部门 {agency!r} 不负责指标 {indicator!r}（负责部门：{allowed}）：请由牵头或配合部门上报"),
}


def check_reach(principal: Principal, events: Sequence[Event], catalogue: Catalogue) -> None:
    """403 naming the first rule an event breaks: what a lab key (and its accreditation) or an agency key (its
    indicators) may report. Operators may report anything."""
    if principal.is_operator:
        return
    refused: list[int] = []
    first: tuple[str, dict[str, str]] | None = None
    for index, event in enumerate(events):
        found = _reach_problem(principal, event, catalogue)
        if found is not None:
            refused.append(index)
            first = first or found
    if first is None:
        return
    rule, params = first
    english, chinese = REACH_RULES[rule]
    shown = ", ".join(str(i) for i in refused[:20]) + (" ..." if len(refused) > 20 else "")
    raise Rejection(403, "forbidden", f"event index {shown}: {english.format(**params)}; nothing was accepted",
                    events=len(events), indexes=refused, rule=rule,
                    detail_zh=f"第 {shown} 条事件：{chinese.format(**params)}；本次提交未被接受")


def _reach_problem(principal: Principal, event: Event, catalogue: Catalogue) -> tuple[str, dict[str, str]] | None:
    params: dict[str, str] = {"type": event.type}
    if principal.role == "lab":
        if event.type not in LAB_EVENTS:
            return "agency_statement", params
        programme = getattr(event.data, "programme", None)
        if principal.programmes is not None and programme is not None and programme not in principal.programmes:
            return "programme_not_accredited", {"allowed": ", ".join(principal.programmes), "programme": programme}
        if principal.regions is not None and not _covers(principal.regions, event.data.region, catalogue):
            return "region_not_accredited", {"allowed": ", ".join(principal.regions), "region": event.data.region}
        return None
    if event.type not in AGENCY_EVENTS:
        return "lab_result", params
    responsible = responsible_agencies(event, catalogue)
    if principal.agency_id not in responsible:
        indicator = str(getattr(event.data, "indicator", None) or getattr(event.data, "sector", ""))
        return "not_responsible", {"agency": str(principal.agency_id), "indicator": indicator,
                                   "allowed": ", ".join(responsible) or "none"}
    return None


def _covers(accredited: Sequence[str], region: str, catalogue: Catalogue) -> bool:
    path = catalogue.resolve_region(region)
    return path is not None and any(level in accredited for level in path.levels)


def responsible_agencies(event: Event, catalogue: Catalogue) -> tuple[str, ...]:
    """The lead and other agencies of the indicator an agency statement reports on (a survey: the indicators
    of its sector)."""
    if isinstance(event, SurveyScoredEvent):
        specs = [s for s in catalogue.indicators if s.source == "survey" and s.survey_sector == event.data.sector]
    else:
        spec = catalogue.indicator(getattr(event.data, "indicator", ""))
        specs = [spec] if spec is not None else []
    found: list[str] = []
    for spec in specs:
        for agency in (spec.lead_agency, *spec.other_agencies):
            if agency == "programme":
                found.extend(catalogue.programmes[p].lead_agency for p in catalogue.programme_for_indicator(spec.id))
            else:
                found.append(agency)
    return tuple(dict.fromkeys(found))


def validate_all(objects: list[Any], context: EventContext) -> list[Event]:
    """Every event validated; if any is invalid, a 422 listing every problem of every event."""
    try:
        return parse_events(objects, context=context)
    except ValidationError as exc:
        raise invalid(problems_of(exc, objects, context.catalogue), len(objects)) from None


def problems_of(exc: ValidationError, objects: list[Any], catalogue: Catalogue) -> list[dict[str, Any]]:
    """pydantic's errors for a list of events (each located under its index) as problems, each naming the
    event (``event_id``, ``sample_id`` or ``project_id``) and, for an enumerated field, its valid values."""
    return [_explained(found, objects, catalogue) for found in _problems(exc)]


_TAGS = ", ".join(EVENT_TYPES)


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors for a list of events (each located under its index) as problems."""
    found = []
    for err in exc.errors(include_url=False, include_input=False, include_context=True):
        index, loc = int(err["loc"][0]), err["loc"][1:]
        kind = err["type"]
        if kind == "union_tag_not_found":
            found.append(problem(index, "$.type", f"missing; one of {_TAGS}", kind="missing"))
        elif kind == "union_tag_invalid":
            found.append(problem(index, "$.type", f"unknown event type; one of {_TAGS}", kind="enum"))
        elif kind == "model_type" and not loc:
            found.append(problem(index, "$", "must be a JSON object (an event)", kind=kind))
        else:
            message = err["msg"].removeprefix("Value error, ")
            raised = (err.get("ctx") or {}).get("error")
            zh = {"message_zh": raised.message_zh} if isinstance(raised, Explained) else {}
            found.append(problem(index, error_path(loc), message, kind=kind, **zh))
    return found


_IDS = ("sample_id", "project_id")


def _explained(found: dict[str, Any], objects: list[Any], catalogue: Catalogue) -> dict[str, Any]:
    kind = found.pop("kind")
    explained = found.pop("message_zh", None)
    sent = objects[found["index"]] if isinstance(found["index"], int) else None
    obj: dict[str, Any] = sent if isinstance(sent, dict) else {}
    data: dict[str, Any] = obj["data"] if isinstance(obj.get("data"), dict) else {}
    path, message = found["path"], found["message"]
    # A programme's unknown category is found by the model as a whole: point at the field itself.
    if path == "$.data" and message.startswith("unknown programme"):
        path = "$.data.programme"
    elif path == "$.data" and message.startswith("programme ") and " has no category " in message:
        path = "$.data.category"
    field = path.rsplit(".", 1)[-1]
    extra: dict[str, Any] = {}
    if field in ENUMERATED and path in (f"$.data.{field}", "$.type") and kind != "missing":
        values = choices(field, catalogue, event_type=str(obj.get("type")), programme=str(data.get("programme")))
        if values:
            value = obj.get("type") if field == "type" else data.get(field)
            message, message_zh = _not_one_of(field, value, values)
            extra = {"message_zh": message_zh, "valid": [{"code": c, "name": n} for c, n in values]}
    extra = extra or {"message_zh": explained or _chinese(kind, message)}
    found = {**found, "path": path, "message": message, **extra}
    event_id = obj.get("event_id")
    if isinstance(event_id, str):
        found["event_id"] = event_id[:100]
    for key in _IDS:
        if isinstance(data.get(key), str):
            found[key] = data[key][:100]
    return found


def _not_one_of(field: str, sent: Any, values: tuple[Choice, ...]) -> tuple[str, str]:
    shown = str(sent)[:100] if sent is not None else "null"
    code = code_for(sent, values) if isinstance(sent, str) else None
    if code is not None:
        return (f"{field} {shown!r} is a name: send the code {code!r}; one of {listed(values)}",
                f"{field} “{shown}”是名称，请填写代码 {code}；可选值：{listed(values)}")
    return (f"{field} {shown!r} is not one of {listed(values)}",
            f"{field} “{shown}”无效；可选值：{listed(values)}")


_ZH = {
    "missing": "缺少此项（必填）",
    "extra_forbidden": "不认识此项，请删除",
    "string_pattern_mismatch": "格式不符：只能用字母、数字和 . _ : -，最长100个字符",
    "string_too_long": "太长",
    "string_too_short": "不能为空",
    "string_type": "应为文字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 是/否（true/false）",
    "bool_parsing": "应为 是/否（true/false）",
    "greater_than_equal": "数值太小",
    "greater_than": "数值太小",
    "less_than_equal": "数值太大",
    "less_than": "数值太大",
    "timezone_aware": "时间须带时区（如 +08:00）",
    "datetime_type": "应为日期时间（如 2026-11-20T10:15:00+08:00）",
    "datetime_parsing": "应为日期时间（如 2026-11-20T10:15:00+08:00）",
    "datetime_from_date_parsing": "应为日期时间（如 2026-11-20T10:15:00+08:00）",
    "model_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "too_long": "项数太多",
}


def _chinese(kind: str, message: str) -> str:
    """pydantic's own error kinds in Chinese (the catalogue's checks raise ``Explained`` with their own)."""
    return _ZH.get(kind, f"无效（{message}）")
