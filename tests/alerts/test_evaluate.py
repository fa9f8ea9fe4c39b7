"""The alert state machine, without I/O."""

from __future__ import annotations

import datetime as dt

import pytest

from services.alerts.evaluate import (
    AlertState,
    Rule,
    alert_id_for,
    evaluate,
    mark_notified,
    notice_due,
    tick,
)
from tests.alerts.support import T0, figure

NOW = T0
RULE = Rule()


def at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


def run(statuses: list[str], rule: Rule = RULE, step: float = 60.0) -> tuple[AlertState | None, list[str]]:
    """Apply statuses one per ``step`` seconds, notifying as the service would; returns notices sent."""
    state: AlertState | None = None
    notices: list[str] = []
    for i, status in enumerate(statuses):
        now = at(i * step)
        t = evaluate(state, figure(status), now, rule)
        if t is not None:
            state = t.after
        if state is not None:
            notice = notice_due(state, now, rule)
            if notice:
                notices.append(notice)
                state = mark_notified(state, notice, now)
    return state, notices


@pytest.mark.parametrize(("status", "severity"), [("at_risk", "warning"), ("breach", "critical"),
                                                  ("behind", "warning"), ("missed", "warning")])
def test_a_bad_figure_fires_at_once_with_its_severity(status: str, severity: str) -> None:
    t = evaluate(None, figure(status), NOW, RULE)
    assert t is not None and t.changed
    assert (t.after.state, t.after.severity, t.after.started_at) == ("firing", severity, NOW)


@pytest.mark.parametrize("status", ["ok", "on_track", "achieved", "insufficient_data"])
def test_a_good_or_unknown_figure_without_an_alert_never_fires(status: str) -> None:
    t = evaluate(None, figure(status), NOW, RULE)
    assert t is None or t.after.state == "inactive"


def test_the_same_figure_twice_is_a_no_op() -> None:
    first = evaluate(None, figure("breach"), NOW, RULE)
    assert first is not None
    assert evaluate(first.after, figure("breach"), at(5), RULE) is None


def test_for_duration_keeps_the_alert_pending_until_it_elapses() -> None:
    rule = Rule(for_seconds=300)
    pending = evaluate(None, figure("at_risk"), NOW, rule)
    assert pending is not None and pending.after.state == "pending"
    assert tick(pending.after, at(299), rule) is None
    fired = tick(pending.after, at(300), rule)
    assert fired is not None and fired.after.state == "firing" and fired.after.started_at == at(300)


def test_a_pending_alert_whose_figure_recovers_goes_back_to_inactive_silently() -> None:
    rule = Rule(for_seconds=300)
    pending = evaluate(None, figure("at_risk"), NOW, rule)
    assert pending is not None
    back = evaluate(pending.after, figure("ok"), at(60), rule)
    assert back is not None and back.after.state == "inactive"
    assert notice_due(back.after, at(60), rule) is None


def test_a_pending_alert_with_insufficient_data_is_not_promoted() -> None:
    rule = Rule(for_seconds=300)
    pending = evaluate(None, figure("at_risk"), NOW, rule)
    assert pending is not None
    held = evaluate(pending.after, figure("insufficient_data"), at(60), rule)
    assert held is not None and held.after.state == "pending"
    assert tick(held.after, at(600), rule) is None


def test_insufficient_data_keeps_a_firing_alert_firing_without_escalating_or_resolving() -> None:
    rule = Rule(resolve_for_seconds=600)
    state, notices = run(["at_risk", "ok", "insufficient_data"], rule)
    assert state is not None and (state.state, state.severity, state.ok_since) == ("firing", "warning", None)
    assert tick(state, at(10_000), rule) is None
    assert notices == ["firing"]


def test_severity_rise_notifies_once_and_a_fall_is_recorded_but_not_notified() -> None:
    state, notices = run(["at_risk", "breach", "at_risk", "breach", "at_risk"])
    assert notices == ["firing", "escalated"]
    assert state is not None and state.severity == "warning"


def test_a_severity_fall_is_a_recorded_change() -> None:
    fired = evaluate(None, figure("breach"), NOW, RULE)
    assert fired is not None
    fall = evaluate(fired.after, figure("at_risk"), at(1), RULE)
    assert fall is not None and fall.changed and fall.after.severity == "warning"
    assert notice_due(mark_notified(fired.after, "firing", NOW), at(1), RULE) is None


def test_resolve_waits_for_the_figure_to_stay_ok_for_resolve_for() -> None:
    rule = Rule(resolve_for_seconds=600)
    state, _ = run(["breach", "ok"], rule)
    assert state is not None and state.state == "firing" and state.ok_since == at(60)
    assert tick(state, at(659), rule) is None
    resolved = tick(state, at(660), rule)
    assert resolved is not None and resolved.after.state == "resolved" and resolved.after.resolved_at == at(660)
    assert notice_due(resolved.after, at(660), rule) == "resolved"


def test_a_figure_oscillating_around_the_threshold_notifies_once() -> None:
    rule = Rule(resolve_for_seconds=600)
    state, notices = run(["at_risk", "ok"] * 20, rule, step=60)
    assert notices == ["firing"]
    assert state is not None and state.state == "firing"


def test_without_resolve_for_each_recovery_resolves_immediately() -> None:
    _, notices = run(["at_risk", "ok", "at_risk"], Rule(resolve_for_seconds=0))
    assert notices == ["firing", "resolved", "firing"]


def test_reminders_come_once_per_repeat_interval_and_not_when_acked() -> None:
    rule = Rule(repeat_interval_seconds=3600)
    fired = evaluate(None, figure("breach"), NOW, rule)
    assert fired is not None
    notified = mark_notified(fired.after, "firing", NOW)
    assert notice_due(notified, at(3599), rule) is None
    assert notice_due(notified, at(3600), rule) == "reminder"
    reminded = mark_notified(notified, "reminder", at(3600))
    assert notice_due(reminded, at(7199), rule) is None
    acked = AlertState(**{**{f: getattr(reminded, f) for f in reminded.__slots__}, "acked_at": at(3700)})
    assert notice_due(acked, at(99_999), rule) is None


def test_escalation_notifies_even_when_acked_and_clears_the_ack() -> None:
    fired = evaluate(None, figure("at_risk"), NOW, RULE)
    assert fired is not None
    notified = mark_notified(fired.after, "firing", NOW)
    acked = AlertState(**{**{f: getattr(notified, f) for f in notified.__slots__}, "acked_at": at(1)})
    escalated = evaluate(acked, figure("breach"), at(2), RULE)
    assert escalated is not None and notice_due(escalated.after, at(2), RULE) == "escalated"
    assert mark_notified(escalated.after, "escalated", at(2)).acked_at is None


def test_a_resolved_alert_that_goes_bad_again_starts_a_new_episode() -> None:
    state, notices = run(["breach", "ok", "at_risk"])
    assert notices == ["firing", "resolved", "firing"]
    assert state is not None and state.started_at == at(120) and state.resolved_at is None


def test_alert_ids_are_stable_and_distinct_per_figure_identity() -> None:
    a = alert_id_for(figure("ok").key)
    assert a == alert_id_for(figure("breach").key)
    assert a != alert_id_for(figure("ok", window="90d").key)
    assert len(a) == 16
