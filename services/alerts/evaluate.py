"""The alert state machine, pure: no I/O, time is a parameter.

States: ``inactive`` → ``pending`` (only when the rule has a ``for`` duration) → ``firing`` →
``resolved`` (→ ``pending``/``firing`` again: a new episode).

Figure status → condition:
- ``at_risk``, ``behind``, ``missed`` → bad, severity ``warning``; ``breach`` → bad, severity ``critical``;
- ``ok``, ``on_track``, ``achieved`` → good;
- ``insufficient_data`` and ``no_data`` (nothing reported: missing is not bad) → unknown. Unknown
  never fires, never escalates and never resolves: a firing alert keeps firing at its severity (and
  any running resolve timer is cancelled, since a lack of data is no evidence of recovery); a pending
  alert waits (it is not promoted).

Anti-flapping: a firing alert resolves only after its figure has stayed good for
``rule.resolve_for_seconds``; a bad figure in between cancels the timer. A severity fall
(critical → warning) is recorded but not notified; a rise notifies only above the highest
severity already notified in the episode (so critical ↔ warning oscillation notifies once).

:func:`evaluate` applies one figure; :func:`tick` advances timers (the periodic pass);
:func:`notice_due` says which notification, if any, an alert owes; :func:`mark_notified` records it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from typing import Literal, get_args

from shared.figures import Figure

State = Literal["inactive", "pending", "firing", "resolved"]
Severity = Literal["warning", "critical"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
Notice = Literal["firing", "escalated", "reminder", "resolved"]

SEVERITY_RANK: dict[str | None, int] = {None: 0, "warning": 1, "critical": 2}
BAD_STATUS: dict[str, Severity] = {"at_risk": "warning", "behind": "warning", "missed": "warning",
                                   "breach": "critical"}
GOOD_STATUS = frozenset({"ok", "on_track", "achieved"})


def alert_id_for(figure_key: str) -> str:
    """A stable short id for a figure identity (64 bits of SHA-256, hex)."""
    return hashlib.sha256(figure_key.encode()).hexdigest()[:16]


def severity_at_least(severity: str | None, minimum: str) -> bool:
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[minimum]


@dataclass(frozen=True, slots=True)
class Rule:
    for_seconds: float = 0.0
    resolve_for_seconds: float = 0.0
    repeat_interval_seconds: float = 24 * 3600.0
    overdue_for_seconds: float = 0.0  # a report missing at its due date is pending this long (overdue.py)


@dataclass(frozen=True, slots=True)
class AlertState:
    state: State = "inactive"
    severity: Severity | None = None
    status: str | None = None
    active_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    ok_since: dt.datetime | None = None
    notified_state: Literal["firing", "resolved"] | None = None
    notified_severity: Severity | None = None
    last_notified_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    before: AlertState
    after: AlertState
    reason: str

    @property
    def changed(self) -> bool:
        """True when state or severity changed (a history row); else only timers/status moved."""
        return (self.before.state, self.before.severity) != (self.after.state, self.after.severity)


def _fire(s: AlertState, severity: Severity, now: dt.datetime) -> AlertState:
    return replace(s, state="firing", severity=severity, active_at=s.active_at or now, started_at=now,
                   resolved_at=None, ok_since=None, notified_state=None, notified_severity=None,
                   last_notified_at=None, acked_at=None)


def _new_episode(s: AlertState, severity: Severity, now: dt.datetime, rule: Rule) -> tuple[AlertState, str]:
    if rule.for_seconds <= 0:
        return _fire(replace(s, active_at=now), severity, now), "figure went bad"
    return replace(s, state="pending", severity=severity, active_at=now, started_at=None, resolved_at=None,
                   ok_since=None), f"figure went bad; waiting {rule.for_seconds:g}s before firing"


def _elapsed(since: dt.datetime | None, now: dt.datetime, seconds: float) -> bool:
    return since is not None and (now - since).total_seconds() >= seconds


def evaluate(current: AlertState | None, figure: Figure, now: dt.datetime, rule: Rule) -> Transition | None:
    """Apply ``figure`` at ``now``; None when nothing about the alert changes."""
    status = figure.status
    before = current or AlertState()
    s, reason = before, ""
    if status in BAD_STATUS:
        severity = BAD_STATUS[status]
        if s.state in ("inactive", "resolved"):
            s, reason = _new_episode(s, severity, now, rule)
        elif s.state == "pending":
            s, reason = replace(s, severity=severity), f"still bad ({status})"
            if _elapsed(s.active_at, now, rule.for_seconds):
                s, reason = _fire(s, severity, now), f"bad for {rule.for_seconds:g}s"
        else:  # firing
            s = replace(s, severity=severity, ok_since=None)
            reason = f"severity {before.severity} -> {severity} ({status})" if severity != before.severity \
                else f"still bad ({status})"
    elif status in GOOD_STATUS:
        if s.state == "pending":
            s, reason = replace(s, state="inactive", severity=None, active_at=None), \
                "figure recovered before firing"
        elif s.state == "firing":
            s = replace(s, ok_since=s.ok_since or now)
            reason = "figure ok; resolve timer running"
            if _elapsed(s.ok_since, now, rule.resolve_for_seconds):
                s, reason = _resolve(s, now), "figure ok"
    else:  # insufficient_data, or a status this service does not know: hold
        if s.state == "firing" and s.ok_since is not None:
            s, reason = replace(s, ok_since=None), f"{status}: resolve timer cancelled"
        else:
            reason = f"{status}: holding"
    s = replace(s, status=status)
    if s == before:
        return None
    return Transition(before, s, reason)


def _resolve(s: AlertState, now: dt.datetime) -> AlertState:
    return replace(s, state="resolved", resolved_at=now, ok_since=None, active_at=None)


def tick(current: AlertState, now: dt.datetime, rule: Rule) -> Transition | None:
    """Advance timers without a new figure: pending → firing after ``for``; resolve after ``resolve_for``."""
    s = current
    if s.state == "pending" and s.status in BAD_STATUS and _elapsed(s.active_at, now, rule.for_seconds):
        assert s.severity is not None
        return Transition(s, _fire(s, s.severity, now), f"bad for {rule.for_seconds:g}s")
    if s.state == "firing" and s.ok_since is not None and _elapsed(s.ok_since, now, rule.resolve_for_seconds):
        return Transition(s, _resolve(s, now), f"figure ok for {rule.resolve_for_seconds:g}s")
    return None


def notice_due(s: AlertState, now: dt.datetime, rule: Rule) -> Notice | None:
    """The notification this alert owes at ``now`` (silences are applied by the caller)."""
    if s.state == "firing":
        if s.notified_state != "firing":
            return "firing"
        if SEVERITY_RANK[s.severity] > SEVERITY_RANK[s.notified_severity]:
            return "escalated"
        if s.acked_at is None and _elapsed(s.last_notified_at, now, rule.repeat_interval_seconds):
            return "reminder"
    elif s.state == "resolved" and s.notified_state == "firing":
        return "resolved"
    return None


def mark_notified(s: AlertState, notice: Notice, now: dt.datetime) -> AlertState:
    if notice == "resolved":
        return replace(s, notified_state="resolved", last_notified_at=now)
    highest = s.severity if SEVERITY_RANK[s.severity] > SEVERITY_RANK[s.notified_severity] else s.notified_severity
    acked_at = None if notice == "escalated" else s.acked_at
    return replace(s, notified_state="firing", notified_severity=highest, last_notified_at=now, acked_at=acked_at)


def muted_key(s: AlertState, notice: Notice) -> str:
    """Identifies one owed notice, so a silenced one is recorded once, not on every pass."""
    last = s.last_notified_at.isoformat() if s.last_notified_at else "-"
    return f"{notice}:{s.severity}:{last}"[:100]
