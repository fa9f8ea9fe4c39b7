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
from shared.auth import Principal
from shared.events import EVENT_TYPES, Event, EventContext, error_path, parse_events


def problem(index: int | None, path: str, message: str) -> dict[str, Any]:
    return {"index": index, "path": path, "message": message}


def invalid(problems: list[dict[str, Any]], events: int) -> Rejection:
    count = len({p["index"] for p in problems})
    what = "event is" if count == 1 else "events are"
    return Rejection(422, "invalid", f"{count} {what} invalid; nothing was accepted", events=events,
                     errors=problems)


def single_event(payload: Any) -> list[Any]:
    if not isinstance(payload, dict):
        raise invalid([problem(0, "$", "must be a JSON object (one event)")], 1)
    return [payload]


def batch_events(payload: Any, max_events: int) -> list[Any]:
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
    """A lab key posts only its own lab's events; agency keys post nothing; operators anything."""
    if principal.is_operator:
        return
    if principal.role != "lab":
        raise Rejection(403, "forbidden", f"a {principal.role} key may not post events", events=len(objects))
    foreign = [i for i, obj in enumerate(objects)
               if isinstance(obj, dict) and obj.get("lab_id") != principal.lab_id and "lab_id" in obj]
    if foreign:
        first = objects[foreign[0]]["lab_id"]
        shown = ", ".join(str(i) for i in foreign[:20]) + (" ..." if len(foreign) > 20 else "")
        raise Rejection(403, "forbidden",
                        f"this key may post only events of lab {principal.lab_id!r}; event index {shown} "
                        f"names lab {str(first)[:100]!r}", events=len(objects), indexes=foreign)


def validate_all(objects: list[Any], context: EventContext) -> list[Event]:
    """Every event validated; if any is invalid, a 422 listing every problem of every event."""
    try:
        return parse_events(objects, context=context)
    except ValidationError as exc:
        raise invalid(_problems(exc), len(objects)) from None


_TAGS = ", ".join(EVENT_TYPES)


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors for a list of events (each located under its index) as problems."""
    found = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        index, loc = int(err["loc"][0]), err["loc"][1:]
        kind = err["type"]
        if kind == "union_tag_not_found":
            found.append(problem(index, "$.type", f"missing; one of {_TAGS}"))
        elif kind == "union_tag_invalid":
            found.append(problem(index, "$.type", f"unknown event type; one of {_TAGS}"))
        elif kind == "model_type" and not loc:
            found.append(problem(index, "$", "must be a JSON object (an event)"))
        else:
            message = err["msg"].removeprefix("Value error, ")
            found.append(problem(index, error_path(loc), message))
    return found
