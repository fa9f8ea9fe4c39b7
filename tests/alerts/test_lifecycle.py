"""The rectification loop as a pure state machine: every transition, its timeline entries and its notices,
with time from a FixedClock (no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.alerts.lifecycle import (
    Acknowledged,
    Fired,
    FollowUps,
    LifecycleError,
    LoopState,
    Notified,
    Resolved,
    SetPlan,
    Step,
    Tick,
    step,
)
from shared.clock import CST
from tests.support import FixedClock

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=CST)
PROVINCE = ("agri",)


def kinds(result: Step) -> list[str]:
    return [e.kind for e in result.entries]


def fired(clock: FixedClock) -> LoopState:
    return step(None, Fired(clock.now(), "critical", provisional_failures=4), clock.now()).state


def planned(clock: FixedClock, days: int = 10) -> LoopState:
    plan = SetPlan("徐州市农业农村局", clock.now() + dt.timedelta(days=days), "整改蔬菜基地农残", "agency:agri",
                   "firing")
    return step(fired(clock), plan, clock.now()).state


def test_a_firing_alert_opens_a_loop_with_a_fired_entry_naming_its_provisional_failures() -> None:
    clock = FixedClock(T0)
    result = step(None, Fired(T0, "critical", provisional_failures=4), clock.now())
    assert result.state.stage == "open" and result.state.episode_started_at == T0
    assert kinds(result) == ["fired"]
    assert result.entries[0].detail == {"severity": "critical", "provisional_failures": 4}
    assert result.notices == ()
    assert step(result.state, Fired(T0, "critical"), clock.now()).entries == ()  # the same episode told twice


def test_notified_and_acknowledged_are_timeline_entries_that_leave_the_stage_alone() -> None:
    clock = FixedClock(T0)
    state = fired(clock)
    notified = step(state, Notified("firing", ("agri", "city-3203")), clock.now())
    acked = step(state, Acknowledged("agency:agri", "已收到"), clock.now())
    assert kinds(notified) == ["notified"] and notified.entries[0].detail["agencies"] == ["agri", "city-3203"]
    assert kinds(acked) == ["acknowledged"] and acked.entries[0].actor == "agency:agri"
    assert notified.state == acked.state == state


def test_a_plan_on_a_firing_alert_is_recorded_with_unit_deadline_and_comment() -> None:
    clock = FixedClock(T0)
    deadline = T0 + dt.timedelta(days=10)
    result = step(fired(clock), SetPlan("徐州市农业农村局", deadline, "整改", "agency:agri", "firing"), clock.now())
    assert result.state.stage == "planned" and result.state.plan is not None
    assert (result.state.plan.unit, result.state.plan.deadline) == ("徐州市农业农村局", deadline)
    assert kinds(result) == ["plan_set"] and result.entries[0].detail["replaces_plan"] is False
    again = step(result.state, SetPlan("另一单位", deadline, "", "operator:k", "firing"), clock.now())
    assert again.entries[0].detail["replaces_plan"] is True and again.state.plan.unit == "另一单位"  # type: ignore[union-attr]


@pytest.mark.parametrize(("alert_state", "deadline_days", "field", "conflict"), [
    ("resolved", 10, "state", True),
    ("firing", 0, "deadline", False),
    ("firing", -1, "deadline", False),
])
def test_a_plan_is_refused_on_an_alert_not_firing_or_with_a_deadline_not_in_the_future(
        alert_state: str, deadline_days: int, field: str, conflict: bool) -> None:
    clock = FixedClock(T0)
    plan = SetPlan("单位", T0 + dt.timedelta(days=deadline_days), "", "agency:agri", alert_state)
    with pytest.raises(LifecycleError, match="firing alert|future") as error:
        step(fired(clock), plan, clock.now())
    assert (error.value.field, error.value.conflict) == (field, conflict)


def test_a_deadline_passing_without_closure_escalates_exactly_once_to_the_next_level() -> None:
    clock = FixedClock(T0)
    state = planned(clock, days=10)
    clock.advance(dt.timedelta(days=10) - dt.timedelta(seconds=1))
    assert step(state, Tick(PROVINCE), clock.now()).entries == ()  # one second early: nothing
    clock.advance(dt.timedelta(seconds=1))
    result = step(state, Tick(PROVINCE), clock.now())
    assert kinds(result) == ["escalated"] and result.state.escalated_at == clock.now()
    (notice,) = result.notices
    assert (notice.kind, notice.agencies, notice.detail["unit"]) == ("rectify_overdue", PROVINCE, "徐州市农业农村局")
    clock.advance(dt.timedelta(days=3))
    later = step(result.state, Tick(PROVINCE), clock.now())
    assert later.entries == () and later.notices == ()  # once
    replanned = step(later.state, SetPlan("单位", clock.now() + dt.timedelta(days=1), "", "agency:agri", "firing"),
                     clock.now()).state
    clock.advance(dt.timedelta(days=2))
    assert step(replanned, Tick(PROVINCE), clock.now()).notices == ()  # still once per episode


def test_follow_ups_are_counted_and_rectify_only_at_the_required_number_with_the_figure_on_target() -> None:
    clock = FixedClock(T0)
    state = planned(clock)
    clock.advance(dt.timedelta(days=2))
    two = step(state, FollowUps(total=2, failed=0, required=3, figure_on_target=True), clock.now())
    assert kinds(two) == ["follow_up_received"] and two.state.stage == "planned"
    three_bad = step(two.state, FollowUps(total=3, failed=1, required=3, figure_on_target=False), clock.now())
    assert kinds(three_bad) == ["follow_up_received"] and three_bad.state.stage == "planned"
    same = step(three_bad.state, FollowUps(total=3, failed=1, required=3, figure_on_target=False), clock.now())
    assert same.entries == ()  # nothing new: no entry
    clock.advance(dt.timedelta(days=1))
    on_target = step(three_bad.state, FollowUps(total=3, failed=1, required=3, figure_on_target=True), clock.now())
    assert kinds(on_target) == ["rectified"] and on_target.state.stage == "rectified"
    assert [n.kind for n in on_target.notices] == ["rectified"]


def test_a_rectified_alert_closes_when_it_resolves_and_a_resolved_one_when_it_is_rectified() -> None:
    clock = FixedClock(T0)
    rectified = step(planned(clock), FollowUps(3, 0, 3, True), clock.now()).state
    clock.advance(dt.timedelta(hours=1))
    closing = step(rectified, Resolved(clock.now()), clock.now())
    assert kinds(closing) == ["resolved", "closed"] and closing.state.stage == "closed"
    assert [n.kind for n in closing.notices] == ["closed"]

    resolved_first = step(planned(clock), Resolved(clock.now()), clock.now())
    assert kinds(resolved_first) == ["resolved"] and resolved_first.state.stage == "planned"
    then = step(resolved_first.state, FollowUps(3, 0, 3, True), clock.now())
    assert kinds(then) == ["follow_up_received", "rectified", "closed"]
    assert [n.kind for n in then.notices] == ["rectified", "closed"]


def test_a_closed_loop_takes_no_plan_and_never_escalates() -> None:
    clock = FixedClock(T0)
    closed = step(step(planned(clock, days=1), FollowUps(3, 0, 3, True), clock.now()).state,
                  Resolved(clock.now()), clock.now()).state
    with pytest.raises(LifecycleError, match="already closed"):
        step(closed, SetPlan("单位", clock.now() + dt.timedelta(days=1), "", "agency:agri", "firing"), clock.now())
    clock.advance(dt.timedelta(days=5))
    assert step(closed, Tick(PROVINCE), clock.now()).notices == ()


def test_a_new_episode_starts_a_new_loop() -> None:
    clock = FixedClock(T0)
    closed = step(step(planned(clock), FollowUps(3, 0, 3, True), clock.now()).state, Resolved(clock.now()),
                  clock.now()).state
    clock.advance(dt.timedelta(days=30))
    again = step(closed, Fired(clock.now(), "warning"), clock.now())
    assert again.state == LoopState(episode_started_at=clock.now()) and kinds(again) == ["fired"]


def test_every_loop_notice_has_chinese_and_english_text_with_the_same_fields() -> None:
    import string

    from services.alerts.notices import KINDS, OVERDUE_KINDS
    from shared.i18n import catalogue
    zh, en = catalogue("notices", "zh-CN"), catalogue("notices", "en")
    labels = {KINDS[k] for k in ("rectify_overdue", "rectified", "closed")} | set(OVERDUE_KINDS.values())
    assert {f"kind.{label}" for label in labels} <= set(zh) == set(en)
    for key in zh:
        fields = [{f for _, f, _, _ in string.Formatter().parse(text) if f} for text in (zh[key], en[key])]
        assert fields[0] == fields[1], key
