"""The rectification loop of one alert episode, pure: state + input + now → new state, timeline, notices.

An alert's threshold state (``evaluate.py``: pending → firing → resolved) says whether the figure is
bad. This module follows what the agencies do about it (整改 and 跟踪抽检), one episode at a time:

``open`` (fired) → ``planned`` (a rectification plan: responsible unit, deadline, comment)
→ ``rectified`` (the catalogue's number of follow-up inspections arrived and the figure is back on
target) → ``closed`` (rectified and the alert resolved, in either order).

- A plan's deadline passing while the episode is neither rectified nor closed escalates it, once per
  episode: a ``rectify_overdue`` notice to the next level up (``escalation_agencies``).
- A plan may be replaced (a new ``plan_set`` entry) until the episode is rectified.
- A new episode (the alert fires again after resolving) starts a new loop; the timeline keeps the old.

Every step is a :class:`Entry` for the append-only ``alert_timeline`` table; the loop's own notices
(:class:`LoopNotice`: ``rectify_overdue``, ``rectified``, ``closed``) go through the alert outbox
(``notify.Notifier.dispatch_loop``). No I/O here; ``now`` is always a parameter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from shared.clock import rfc3339

Stage = Literal["open", "planned", "rectified", "closed"]
EntryKind = Literal["fired", "notified", "acknowledged", "plan_set", "escalated", "follow_up_received",
                    "rectified", "resolved", "closed", "report_overdue", "report_received"]
LoopNoticeKind = Literal["rectify_overdue", "rectified", "closed"]


class LifecycleError(ValueError):
    """An input the loop cannot take in its current stage (the API answers 409/422 with the message)."""

    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


@dataclass(frozen=True, slots=True)
class Plan:
    unit: str
    deadline: dt.datetime
    comment: str
    set_by: str
    set_at: dt.datetime


@dataclass(frozen=True, slots=True)
class LoopState:
    episode_started_at: dt.datetime | None = None
    stage: Stage = "open"
    plan: Plan | None = None
    escalated_at: dt.datetime | None = None
    follow_ups: int = 0
    follow_ups_failed: int = 0
    rectified_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    kind: EntryKind
    at: dt.datetime
    actor: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoopNotice:
    kind: LoopNoticeKind
    agencies: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    state: LoopState
    entries: tuple[Entry, ...] = ()
    notices: tuple[LoopNotice, ...] = ()


# ---- inputs ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Fired:
    started_at: dt.datetime
    severity: str
    provisional_failures: int | None = None


@dataclass(frozen=True, slots=True)
class Notified:
    notice: str
    agencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Acknowledged:
    by: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class SetPlan:
    unit: str
    deadline: dt.datetime
    comment: str
    by: str
    alert_state: str  # the alert's threshold state: a plan needs a firing (or pending) alert


@dataclass(frozen=True, slots=True)
class FollowUps:
    """The follow-up inspections naming the alert in this episode so far (counts, not a delta)."""

    total: int
    failed: int
    required: int
    figure_on_target: bool
    sample_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolved:
    resolved_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Tick:
    """The periodic pass: a plan deadline may have passed."""

    escalate_to: tuple[str, ...]


Input = Fired | Notified | Acknowledged | SetPlan | FollowUps | Resolved | Tick


def step(state: LoopState | None, event: Input, now: dt.datetime) -> Step:
    """Apply one input at ``now``. Raises :class:`LifecycleError` for an input the stage refuses."""
    s = state or LoopState()
    match event:
        case Fired():
            return _fired(s, event, now)
        case Notified():
            return Step(s, (Entry("notified", now, None, {"notice": event.notice,
                                                              "agencies": list(event.agencies)}),))
        case Acknowledged():
            return Step(s, (Entry("acknowledged", now, event.by, {"comment": event.comment}),))
        case SetPlan():
            return _set_plan(s, event, now)
        case FollowUps():
            return _follow_ups(s, event, now)
        case Resolved():
            return _resolved(s, event, now)
        case Tick():
            return _tick(s, event, now)
    raise TypeError(f"unknown input {event!r}")  # pragma: no cover


def _fired(s: LoopState, event: Fired, now: dt.datetime) -> Step:
    if s.episode_started_at == event.started_at:
        return Step(s)  # the same episode, told twice
    new = LoopState(episode_started_at=event.started_at)
    detail: dict[str, Any] = {"severity": event.severity}
    if event.provisional_failures is not None:
        detail["provisional_failures"] = event.provisional_failures
    return Step(new, (Entry("fired", now, None, detail),))


def _set_plan(s: LoopState, event: SetPlan, now: dt.datetime) -> Step:
    if event.alert_state not in ("firing", "pending"):
        raise LifecycleError("state", f"a rectification plan needs a firing alert; this one is {event.alert_state}",
                             conflict=True)
    if s.stage in ("rectified", "closed"):
        raise LifecycleError("state", f"this alert is already {s.stage}", conflict=True)
    if event.deadline.tzinfo is None:
        raise LifecycleError("deadline", "needs a UTC offset (RFC 3339), e.g. 2026-12-31T17:00:00+08:00")
    if event.deadline <= now:
        raise LifecycleError("deadline", "must be in the future")
    plan = Plan(unit=event.unit, deadline=event.deadline, comment=event.comment, set_by=event.by, set_at=now)
    detail = {"unit": plan.unit, "deadline": rfc3339(plan.deadline), "comment": plan.comment,
              "replaces_plan": s.plan is not None}
    return Step(replace(s, stage="planned", plan=plan), (Entry("plan_set", now, event.by, detail),))


def _follow_ups(s: LoopState, event: FollowUps, now: dt.datetime) -> Step:
    entries: list[Entry] = []
    notices: list[LoopNotice] = []
    if event.total > s.follow_ups:
        entries.append(Entry("follow_up_received", now, None, {
            "count": event.total, "failed": event.failed, "required": event.required,
            "new": event.total - s.follow_ups, "sample_ids": list(event.sample_ids)}))
        s = replace(s, follow_ups=event.total, follow_ups_failed=event.failed)
    if s.stage in ("open", "planned") and event.total >= event.required and event.figure_on_target:
        s = replace(s, stage="rectified", rectified_at=now)
        entries.append(Entry("rectified", now, None, {"follow_ups": event.total, "required": event.required}))
        notices.append(LoopNotice("rectified", (), {"follow_ups": event.total}))
        if s.resolved_at is not None:
            s, closing = _close(s, now)
            entries.append(closing)
            notices.append(LoopNotice("closed", ()))
    return Step(s, tuple(entries), tuple(notices))


def _resolved(s: LoopState, event: Resolved, now: dt.datetime) -> Step:
    if s.resolved_at == event.resolved_at:
        return Step(s)
    s = replace(s, resolved_at=event.resolved_at)
    entries = [Entry("resolved", now)]
    notices: list[LoopNotice] = []
    if s.stage == "rectified":
        s, closing = _close(s, now)
        entries.append(closing)
        notices.append(LoopNotice("closed", ()))
    return Step(s, tuple(entries), tuple(notices))


def _close(s: LoopState, now: dt.datetime) -> tuple[LoopState, Entry]:
    return replace(s, stage="closed", closed_at=now), Entry("closed", now)


def _tick(s: LoopState, event: Tick, now: dt.datetime) -> Step:
    if s.stage != "planned" or s.plan is None or s.escalated_at is not None or now < s.plan.deadline:
        return Step(s)
    detail = {"deadline": rfc3339(s.plan.deadline), "unit": s.plan.unit, "to": list(event.escalate_to)}
    notice = LoopNotice("rectify_overdue", event.escalate_to,
                        {"deadline": rfc3339(s.plan.deadline), "unit": s.plan.unit})
    return Step(replace(s, escalated_at=now), (Entry("escalated", now, None, detail),), (notice,))
