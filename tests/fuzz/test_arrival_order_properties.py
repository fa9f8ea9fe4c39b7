"""Arrival order does not matter: the same events, in any order and any batching, give the same
subject state and the same daily tallies (the indicators service's pure apply logic).

Complements tests/indicators/test_apply.py (inspection revisions alone) with every stateful
subject at once: inspection revisions, sample collections (with completion within 30 days),
acceptance revisions and reported figures, sharing sample ids and regions. Revisions of one subject
are distinct, as the contract asks (an equal revision that differs is ignored: first come wins).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.indicators.apply import Applier, SubjectState, subjects_of
from shared.catalogue import load_catalogue
from shared.events import parse_event
from shared.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=CST)
REGIONS = ["320100", "320505", "321300"]


class DictStore:
    """What the database keeps (subject state, signed daily sums), in dicts."""

    def __init__(self) -> None:
        self.state = SubjectState()
        self.tallies: dict[tuple, list[float]] = {}

    def apply(self, objs: list[dict[str, Any]]) -> None:
        events = [parse_event(o) for o in objs]
        samples, projects, reports = subjects_of(events)
        s = self.state
        initial = SubjectState({k: s.inspections.get(k) for k in samples}, {k: s.samples.get(k) for k in samples},
                               {k: s.acceptances.get(k) for k in projects}, {k: s.reports.get(k) for k in reports})
        applier = Applier(CATALOGUE, initial)
        for event in events:
            applier.apply(event)
        for key, row in applier.tally_deltas().sums.items():
            old = self.tallies.get(key, [0, 0, 0, 0.0, 0.0])
            self.tallies[key] = [a + b for a, b in zip(old, row, strict=True)]
        for name in ("inspections", "samples", "acceptances", "reports"):
            getattr(s, name).update({k: v for k, v in getattr(applier.current, name).items() if v})

    def nonzero(self) -> dict[tuple, list[float]]:
        return {k: [round(x, 9) for x in v] for k, v in self.tallies.items() if any(v)}


def _at(days_ago: int, hour: int) -> str:
    return (NOW - dt.timedelta(days=days_ago, hours=hour)).isoformat()


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    revision: dict[str, int] = {}
    for i in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["inspection", "sample", "acceptance", "report"]))
        region, days, hour = draw(st.sampled_from(REGIONS)), draw(st.integers(0, 60)), draw(st.integers(0, 23))
        base = {"event_id": f"e{i}", "occurred_at": _at(days, hour), "lab_id": "LAB-0001"}
        if kind in ("inspection", "sample"):
            sample = draw(st.sampled_from(["s1", "s2", "s3"]))
            data = {"sample_id": sample, "programme": "agri-routine-monitoring",
                    "category": draw(st.sampled_from(["vegetables", "tea"])), "region": region}
            if kind == "inspection":
                revision[sample] = revision.get(sample, 0) + 1
                data |= {"verdict": draw(st.sampled_from(["pass", "fail"])), "revision": revision[sample]}
            events.append({**base, "type": f"{kind}.{'completed' if kind == 'inspection' else 'collected'}",
                           "data": data})
        elif kind == "acceptance":
            project = draw(st.sampled_from(["p1", "p2"]))
            revision[project] = revision.get(project, 0) + 1
            events.append({**base, "type": "acceptance.completed", "data": {
                "project_id": project, "size": draw(st.sampled_from(["large", "medium", "small"])),
                "region": region, "first_time_pass": draw(st.booleans()), "revision": revision[project]}})
        else:
            denominator = draw(st.integers(1, 500))
            events.append({**base, "type": "figure.reported", "data": {
                "indicator": "agri_sampling_pass_rate", "region": draw(st.sampled_from(["320100", "320000"])),
                "period": "2026-11", "numerator": draw(st.integers(0, denominator)), "denominator": denominator}})
    return events


@settings(max_examples=200, deadline=None)
@given(event_sets(), st.randoms(use_true_random=False), st.integers(1, 5))
def test_any_arrival_order_and_batching_gives_the_same_state_and_tallies(events, rnd, batches) -> None:  # noqa: ANN001
    in_order = DictStore()
    in_order.apply(events)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    permuted = DictStore()
    size = max(1, len(shuffled) // batches)
    for start in range(0, len(shuffled), size):
        permuted.apply(shuffled[start:start + size])
    assert permuted.nonzero() == in_order.nonzero()
    for name in ("inspections", "samples", "acceptances", "reports"):
        assert getattr(permuted.state, name) == getattr(in_order.state, name), name


@settings(max_examples=100, deadline=None)
@given(event_sets(), st.randoms(use_true_random=False))
def test_applying_the_same_events_again_in_another_order_changes_nothing(events, rnd) -> None:  # noqa: ANN001
    store = DictStore()
    store.apply(events)
    before = store.nonzero()
    again = list(events)
    rnd.shuffle(again)
    store.apply(again)  # redelivery without applied_event: revisions/first-collected/latest-report rules hold
    assert store.nonzero() == before
