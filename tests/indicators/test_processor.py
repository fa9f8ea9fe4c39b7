"""A batch applied in one transaction against the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from services.indicators.decode import Rejected
from services.indicators.models import AppliedEvent, DeadLetter
from services.indicators.processor import BatchProcessor
from tests.indicators import factory as f
from tests.indicators.conftest import Harness

pytestmark = pytest.mark.integration
AGRI = "agri_sampling_pass_rate"


def figure(h: Harness, indicator: str = AGRI, region: str = "320000", category: str | None = None,
           window: str = "30d"):  # noqa: ANN201
    spec = h.catalogue.indicator(indicator)
    assert spec is not None
    return h.reader.figure(spec, region, category, window)


def test_exact_counts_after_applying_a_batch(harness: Harness) -> None:
    events = [f.inspection(f"e{i}", f"s{i}", "fail" if i % 10 == 1 else "pass",
                           region="320505" if i % 2 else "320100") for i in range(200)]
    harness.processor.process([f.message(e) for e in events])
    province, suzhou = figure(harness), figure(harness, region="320500")
    assert (province.numerator, province.denominator) == (180, 200)
    assert (suzhou.numerator, suzhou.denominator) == (80, 100)
    assert harness.metric("qw_indicators_events_applied_total", type="inspection.completed") == 200


def test_a_redelivered_batch_counts_once(harness: Harness) -> None:
    batch = [f.message(f.inspection(f"e{i}", f"s{i}", "pass")) for i in range(50)]
    harness.processor.process(batch)
    harness.processor.process(batch)
    assert figure(harness).denominator == 50
    assert harness.metric("qw_indicators_duplicates_total") == 50
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AppliedEvent)) == 50


def test_a_batch_mixing_applied_and_new_events_applies_only_the_new_ones(harness: Harness) -> None:
    harness.processor.process([f.message(f.inspection(f"e{i}", f"s{i}", "pass")) for i in range(30)])
    mixed = [f.message(f.inspection(f"e{i}", f"s{i}", "fail" if i >= 50 else "pass")) for i in range(20, 60)]
    result = harness.processor.process([*mixed, f.message(f.inspection("e5", "s5", "fail"))])
    assert (figure(harness).numerator, figure(harness).denominator) == (50, 60)
    assert (result.duplicates, [r.reason for r in result.dead_letters]) == (10, ["conflict"])
    assert result.applied == {"inspection.completed": 30}
    assert harness.metric("qw_indicators_duplicates_total") == 10
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AppliedEvent)) == 60


def test_the_same_event_twice_in_one_batch_counts_once(harness: Harness) -> None:
    event = f.inspection("e1", "s1", "pass")
    harness.processor.process([f.message(event), f.message(event)])
    assert figure(harness).denominator == 1
    assert harness.metric("qw_indicators_duplicates_total") == 1


def test_an_event_id_reused_with_other_content_is_a_conflict_dead_letter(harness: Harness) -> None:
    harness.processor.process([f.message(f.inspection("e1", "s1", "pass"))])
    harness.processor.process([f.message(f.inspection("e1", "s1", "fail"))])
    assert figure(harness).numerator == 1
    assert [r.reason for r in harness.sink.sent] == ["conflict"]
    assert harness.metric("qw_indicators_dead_letters_total", reason="conflict") == 1


def test_undecodable_and_unknown_messages_become_dead_letters(harness: Harness) -> None:
    unknown_region = f.inspection("e2", "s2", region="330100")
    unknown_region_msg = f.message(f.inspection("e2", "s2"))
    unknown_region_msg = type(unknown_region_msg)(
        "qw.events", 0, 999_001, b"k", f.encode(f.inspection("e2", "s2"))[1].replace(b"320500", b"330100"), ())
    assert unknown_region["data"]["region"] == "330100"
    batch = [f.message(b"{not json"), f.message(b'{"event_id": "x"}'), unknown_region_msg,
             f.message(f.inspection("e3", "s3"))]
    harness.processor.process(batch)
    assert sorted(r.reason for r in harness.sink.sent) == ["decode", "invalid", "invalid"]
    assert figure(harness).denominator == 1
    with harness.sessions() as session:
        rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
    assert [r.reason for r in rows] == ["decode", "invalid", "invalid"]
    assert rows[2].raw_value is not None and b"330100" in rows[2].raw_value
    assert "region" in rows[2].error
    # the same messages again (a redelivery) add no second row
    harness.processor.process(batch)
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 3


class RefusingSink:
    """Counts the committed dead-letter rows at each send; refuses the first send (a broker outage)."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.rows_at_send: list[int] = []
        self.sent: list[Rejected] = []

    def send(self, rejected: Sequence[Rejected]) -> None:
        with self.harness.sessions() as session:  # a separate session sees only what was committed
            self.rows_at_send.append(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)
        if len(self.rows_at_send) == 1:
            raise RuntimeError("broker unavailable")
        self.sent.extend(rejected)


def test_dead_letters_are_sent_after_the_commit_and_a_refused_send_leaves_the_offsets_for_a_redelivery(
        harness: Harness) -> None:
    sink = RefusingSink(harness)
    processor = BatchProcessor(harness.catalogue, harness.sessions, sink, harness.metrics, harness.clock)
    batch = [f.message(b"{not json"), f.message(f.inspection("e1", "s1", "pass"))]
    offsets_committed: list[bool] = []
    first = processor.process(batch, lambda: offsets_committed.append(True))
    assert sink.rows_at_send == [1]  # the transaction had committed before the send was tried
    assert offsets_committed == []  # so the batch comes again
    assert first.applied == {"inspection.completed": 1} and first.touched  # and what it applied still counts
    assert harness.metric("qw_indicators_events_applied_total", type="inspection.completed") == 1
    again = processor.process(batch, lambda: offsets_committed.append(True))  # the redelivery
    assert offsets_committed == [True]
    assert again.applied == {} and again.duplicates == 1
    assert [r.reason for r in sink.sent] == ["decode"]
    assert figure(harness).denominator == 1
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1


def test_revisions_replace_verdicts_in_the_database_in_any_arrival_order(harness: Harness) -> None:
    harness.processor.process([f.message(f.inspection("r2", "s1", "pass", revision=2))])
    harness.processor.process([f.message(f.inspection("r1", "s1", "fail", revision=1)),
                               f.message(f.inspection("x1", "s2", "fail"))])
    harness.processor.process([f.message(f.inspection("x2", "s2", "pass", revision=3, category="tea"))])
    fig = figure(harness)
    assert (fig.numerator, fig.denominator) == (2, 2)
    assert figure(harness, category="tea").denominator == 1
    assert figure(harness, category="vegetables").denominator == 1
    assert harness.metric("qw_indicators_revisions_ignored_total") == 1


def test_the_figure_has_the_contract_fields_and_cst_times(harness: Harness) -> None:
    events = [f.inspection(f"e{i}", f"s{i}", "fail" if i < 30 else "pass") for i in range(1000)]
    harness.processor.process([f.message(e) for e in events])
    fig = figure(harness, region="320500")
    assert (fig.numerator, fig.denominator, fig.value) == (970, 1000, 0.97)
    assert fig.ci95 == (0.9575, 0.9789)
    assert fig.status == "ok"
    assert fig.as_of.isoformat() == "2026-11-28T10:00:00+08:00"
    assert fig.last_event_at is not None and fig.last_event_at.isoformat() == "2026-11-28T09:00:00+08:00"


def test_a_late_event_moves_only_the_windows_it_belongs_to(harness: Harness) -> None:
    harness.processor.process([f.message(f.inspection("old", "s1", "fail", at=f.NOW - dt.timedelta(days=60)))])
    assert figure(harness, window="30d").denominator == 0
    assert figure(harness, window="90d").denominator == 1
    assert figure(harness, window="2026-09").denominator == 1


def test_surveys_milestones_acceptances_and_reports_give_figures(harness: Harness) -> None:
    harness.processor.process([f.message(e) for e in [
        f.survey("v1", 80, 20), f.survey("v2", 90, 20),
        # Reported inside the plan period (2018–2020), judged at its deadline: achieved.
        f.milestone("m1", "new_national_standards", 700, at=dt.datetime(2020, 6, 1, tzinfo=f.CST)),
        f.acceptance("a1", "p1", True), f.acceptance("a2", "p2", False),
        f.reported("g1", "green_building_share", "320100", "2026", numerator=95, denominator=100),
        f.reported("g2", "green_building_share", "320200", "2026", numerator=100, denominator=100),
        f.reported("q1", "manufacturing_quality_index", "320100", "2026-Q3", value=90.0),
        f.reported("q2", "manufacturing_quality_index", "320100", "2026-Q3", value=86.0,
                   at=f.NOW - dt.timedelta(hours=2)),
    ]])
    survey = figure(harness, "producer_services_satisfaction", window="90d")
    assert (survey.value, survey.sample_size) == (85.0, 40)
    assert survey.ci95 is not None and survey.ci95[0] < 85 < survey.ci95[1]
    assert figure(harness, "new_national_standards", window="plan").status == "achieved"
    assert figure(harness, "project_first_acceptance_rate", window="90d").status == "insufficient_data"
    green = figure(harness, "green_building_share", window="ytd")
    assert (green.numerator, green.denominator) == (195, 200)  # no province report: the cities summed
    assert figure(harness, "manufacturing_quality_index", region="320100", window="ytd").value == 86.0


def test_completion_and_coverage_come_from_samples(harness: Harness) -> None:
    events = []
    for i in range(40):
        events.append(f.sample(f"c{i}", f"s{i}", at=f.NOW - dt.timedelta(days=45)))
        if i < 38:
            events.append(f.inspection(f"i{i}", f"s{i}", at=f.NOW - dt.timedelta(days=40)))
    harness.processor.process([f.message(e) for e in events])
    completion = figure(harness, "inspection_completion", window="90d")
    assert (completion.numerator, completion.denominator) == (38, 40)
    coverage = figure(harness, "sampling_coverage", region="320500", window="ytd")
    assert coverage.numerator == 40
    assert coverage.status == "breach"  # 40 of ~1,500 due by late November
