"""Applying events in memory: revisions, arrival order, contributions to the daily tallies."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from services.indicators.apply import Applier, SubjectState, subjects_of
from services.indicators.state import Tallies
from shared.catalogue import load_catalogue
from shared.events import parse_event
from shared.settings import DEFAULT_CATALOGUE
from tests.indicators import factory as f

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
AGRI = "agri_sampling_pass_rate"


class FakeStore:
    """Subject state and tallies kept in dicts: what the database keeps, without the database."""

    def __init__(self) -> None:
        self.state = SubjectState()
        self.tallies: dict = {}

    def apply(self, objs: list[dict]) -> Applier:
        events = [parse_event(o) for o in objs]
        samples, projects, reports = subjects_of(events)
        initial = SubjectState(
            {s: self.state.inspections.get(s) for s in samples}, {s: self.state.samples.get(s) for s in samples},
            {p: self.state.acceptances.get(p) for p in projects}, {r: self.state.reports.get(r) for r in reports})
        applier = Applier(CATALOGUE, initial)
        for event in events:
            applier.apply(event)
        deltas: Tallies = applier.tally_deltas()
        for key, row in deltas.sums.items():
            old = self.tallies.get(key, [0, 0, 0, 0.0, 0.0])
            self.tallies[key] = [a + b for a, b in zip(old, row, strict=True)]
        for name in ("inspections", "samples", "acceptances", "reports"):
            getattr(self.state, name).update({k: v for k, v in getattr(applier.current, name).items() if v})
        return applier

    def total(self, indicator: str, region: str, category: str | None = None) -> tuple[int, int]:
        rows = [v for (ind, reg, _day, cat), v in self.tallies.items()
                if ind == indicator and reg == region and (category is None or cat == category)]
        return sum(r[0] for r in rows), sum(r[1] for r in rows)


def test_inspections_count_at_county_city_and_province_levels() -> None:
    store = FakeStore()
    store.apply([f.inspection("e1", "s1", "pass", region="320505"), f.inspection("e2", "s2", "fail")])
    assert store.total(AGRI, "320505") == (1, 1)
    assert store.total(AGRI, "320500") == (1, 2)
    assert store.total(AGRI, "320000") == (1, 2)
    assert store.total(AGRI, "320000", "vegetables") == (1, 2)


def test_a_higher_revision_replaces_the_verdict_and_moves_the_counts() -> None:
    store = FakeStore()
    store.apply([f.inspection("e1", "s1", "fail")])
    store.apply([f.inspection("e2", "s1", "pass", revision=2, region="320100", category="fruit")])
    assert store.total(AGRI, "320000") == (1, 1)
    assert store.total(AGRI, "320500") == (0, 0)
    assert store.total(AGRI, "320100", "fruit") == (1, 1)
    assert store.total(AGRI, "320000", "vegetables") == (0, 0)


def test_a_lower_revision_arriving_later_is_ignored() -> None:
    store = FakeStore()
    store.apply([f.inspection("e2", "s1", "pass", revision=2)])
    applier = store.apply([f.inspection("e1", "s1", "fail", revision=1)])
    assert store.total(AGRI, "320000") == (1, 1)
    assert applier.changed_inspections() == []


def test_a_revision_moving_to_another_day_leaves_nothing_on_the_old_day() -> None:
    store = FakeStore()
    store.apply([f.inspection("e1", "s1", "fail", at=f.NOW - dt.timedelta(days=40))])
    store.apply([f.inspection("e2", "s1", "fail", revision=2, at=f.NOW - dt.timedelta(days=1))])
    days = {key[2]: row for key, row in store.tallies.items() if key[1] == "320000" and key[0] == AGRI}
    assert days[(f.NOW - dt.timedelta(days=40)).date()][:2] == [0, 0]
    assert days[(f.NOW - dt.timedelta(days=1)).date()][:2] == [0, 1]


def test_completion_counts_a_sample_inspected_within_thirty_days_whatever_arrives_first() -> None:
    for order in ([0, 1], [1, 0]):
        store = FakeStore()
        events = [f.sample("c1", "s1", at=f.NOW - dt.timedelta(days=40)),
                  f.inspection("i1", "s1", at=f.NOW - dt.timedelta(days=35))]
        for i in order:
            store.apply([events[i]])
        rows = [v for k, v in store.tallies.items() if k[0] == "inspection_completion" and k[1] == "320000"]
        assert [r[:3] for r in rows] == [[1, 1, 1]]


def test_surveys_add_weighted_scores() -> None:
    store = FakeStore()
    store.apply([f.survey("v1", 80, 10), f.survey("v2", 90, 30)])
    rows = [v for k, v in store.tallies.items() if k[0] == "producer_services_satisfaction" and k[1] == "320000"]
    assert rows == [[0, 40, 0, 80 * 10 + 90 * 30, 80 * 80 * 10 + 90 * 90 * 30]]


ADDITIONS = st.lists(
    st.tuples(st.sampled_from(["survey", "milestone"]), st.sampled_from(["320100", "320505", "321300", "320000"]),
              st.sampled_from(["producer_services", "consumer_services"]), st.integers(0, 3), st.integers(0, 100),
              st.integers(1, 50)),
    min_size=1, max_size=15)


@settings(max_examples=100, deadline=None)
@given(ADDITIONS)
def test_surveys_and_milestones_in_one_batch_add_what_they_add_one_at_a_time(specs) -> None:  # noqa: ANN001
    events = [f.survey(f"e{i}", score, size, sector=sector, region=region, at=f.NOW - dt.timedelta(days=days))
              if kind == "survey" else
              f.milestone(f"e{i}", "new_national_standards", size, region=region, at=f.NOW - dt.timedelta(days=days))
              for i, (kind, region, sector, days, score, size) in enumerate(specs)]
    together, one_by_one = FakeStore(), FakeStore()
    applier = together.apply(events)
    latest: dict = {}
    for event in events:
        for key, at in one_by_one.apply([event]).tally_deltas().last_event_at.items():
            latest[key] = max(at, latest.get(key, at))
    assert together.tallies == one_by_one.tallies
    assert applier.tally_deltas().last_event_at == latest
    # Each figure names up to five of the events that moved it, and only those.
    for (indicator, region, _category), ids in applier.event_ids.items():
        assert 1 <= len(ids) <= 5
        assert all(one_by_one.apply([events[int(eid[1:])]]).event_ids.get((indicator, region, None)) for eid in ids)


def test_acceptances_of_small_projects_do_not_count() -> None:
    store = FakeStore()
    store.apply([f.acceptance("a1", "p1", True, size="small"), f.acceptance("a2", "p2", False, size="medium")])
    assert store.total("project_first_acceptance_rate", "320000") == (0, 1)


def test_the_touched_figures_name_the_events_that_moved_them() -> None:
    applier = FakeStore().apply([f.inspection("e1", "s1", region="320505")])
    assert applier.event_ids[(AGRI, "320000", None)] == ["e1"]
    assert applier.event_ids[(AGRI, "320500", "vegetables")] == ["e1"]


REVISIONS = st.lists(
    st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(["pass", "fail"]),
              st.sampled_from(["320100", "320505", "321300"]), st.sampled_from(["vegetables", "tea"]),
              st.integers(0, 60)),
    min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(REVISIONS, st.randoms(use_true_random=False), st.integers(1, 4))
def test_revisions_in_any_order_and_batching_give_the_same_tallies(specs, rnd, batches) -> None:  # noqa: ANN001
    events = []
    revision: dict[str, int] = {}
    for i, (sample_id, verdict, region, category, days_ago) in enumerate(specs):
        revision[sample_id] = revision.get(sample_id, 0) + 1  # distinct revisions per sample
        events.append(f.inspection(f"e{i}", sample_id, verdict, revision=revision[sample_id], region=region,
                                   category=category, at=f.NOW - dt.timedelta(days=days_ago)))
    in_order = FakeStore()
    in_order.apply(events)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    permuted = FakeStore()
    size = max(1, len(shuffled) // batches)
    for start in range(0, len(shuffled), size):
        permuted.apply(shuffled[start:start + size])
    nonzero = {k: v for k, v in in_order.tallies.items() if any(v)}
    assert {k: v for k, v in permuted.tallies.items() if any(v)} == nonzero
    assert permuted.state.inspections == in_order.state.inspections
