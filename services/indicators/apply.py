"""Applying a batch of events to subject state in memory (pure; the store loads and saves).

Rules:
- inspection / acceptance: a higher ``revision`` replaces the current one; a lower or equal one is
  ignored (and counted), so revision 1 arriving after revision 2 changes nothing;
- sample.collected: the earliest collection (by occurred_at, then event_id) is kept, whatever the
  arrival order; a later one for the same sample_id is ignored;
- figure.reported: the latest report (by occurred_at, then event_id) per indicator/region/period;
- survey.scored and milestone.reported only add: they are summed per (sector or indicator, region, CST
  day) as they come, and each sum is expanded into its tally keys once, in ``tally_deltas``.

``tally_deltas()`` gives, per tally key, new contributions minus the ones loaded at the start, and
notes for each figure it moves up to five ids of the events behind the move: the events whose states
the batch left current (a revision replaced later in the same batch is not named).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from services.indicators.provisional import check_objection
from services.indicators.state import (
    AcceptanceState,
    InspectionState,
    ReportState,
    SampleState,
    Signature,
    Tallies,
    TallyKey,
    Vector,
    acceptance_signature,
    catalogue_index,
    inspection_signature,
    milestone_keys,
    sample_signature,
    signature_items,
    survey_keys,
)
from services.indicators.windows import local_day
from shared.catalogue import Catalogue
from shared.events import (
    AcceptanceCompletedEvent,
    Event,
    FigureReportedEvent,
    InspectionCompletedEvent,
    InspectionObjectedEvent,
    MilestoneReportedEvent,
    SampleCollectedEvent,
    SurveyScoredEvent,
)

Outcome = Literal["applied", "ignored"]
ReportKey = tuple[str, str, str]
# A figure touched by a batch: (indicator, region, category or None).
Touched = tuple[str, str, str | None]


@dataclass
class SubjectState:
    """What the store loaded for the subjects of a batch (None: not known yet)."""

    inspections: dict[str, InspectionState | None] = field(default_factory=dict)
    samples: dict[str, SampleState | None] = field(default_factory=dict)
    acceptances: dict[str, AcceptanceState | None] = field(default_factory=dict)
    reports: dict[ReportKey, ReportState | None] = field(default_factory=dict)


def subjects_of(events: Iterable[Event]) -> tuple[set[str], set[str], set[ReportKey]]:
    """Sample ids, project ids and report keys the store must load before applying ``events``."""
    samples: set[str] = set()
    projects: set[str] = set()
    reports: set[ReportKey] = set()
    for event in events:
        if isinstance(event, (InspectionCompletedEvent, SampleCollectedEvent, InspectionObjectedEvent)):
            samples.add(event.data.sample_id)
        elif isinstance(event, AcceptanceCompletedEvent):
            projects.add(event.data.project_id)
        elif isinstance(event, FigureReportedEvent):
            d = event.data
            reports.add((d.indicator, d.region, d.period))
    return samples, projects, reports


@dataclass(slots=True)
class Changes:
    """What applying a batch changed, for the store to save: the subject states that differ from the
    loaded ones, the signed tally sums, and the figures moved with a few event ids each."""

    inspections: list[InspectionState]
    samples: list[SampleState]
    acceptances: list[AcceptanceState]
    reports: list[ReportState]
    tallies: Tallies
    touched: dict[Touched, list[str]]
    # Issue 19: objections to failing results, and follow-up inspections naming an alert (newest first wins).
    objections: list[Objection] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Objection:
    sample_id: str
    revision: int
    objected_at: dt.datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    sample_id: str
    alert_id: str
    indicator: str
    region: str
    verdict: str
    revision: int
    occurred_at: dt.datetime
    event_id: str


class Applier:
    def __init__(self, catalogue: Catalogue, initial: SubjectState) -> None:
        self.catalogue = catalogue
        self.initial = initial
        self.current = SubjectState(dict(initial.inspections), dict(initial.samples),
                                    dict(initial.acceptances), dict(initial.reports))
        # Surveys and milestones summed per (kind, sector or indicator, region, day):
        # [numerator, denominator, score_sum, score_sq_sum, latest instant, up to EVENT_IDS event ids].
        self.additions: dict[tuple[str, str, str, dt.date], list] = {}
        self.touched_reports: set[ReportKey] = set()
        # Keys whose current state an event replaced (candidates for changed_*(): no scan of every loaded key).
        self._replaced_inspections: set[str] = set()
        self._replaced_samples: set[str] = set()
        self._replaced_acceptances: set[str] = set()
        self.event_ids: dict[Touched, list[str]] = {}
        self._tz = catalogue.tz
        index = catalogue_index(catalogue)
        self._inspection_indicators = index.inspection_indicators
        self._programme_indicator = index.programme_indicator
        self._handlers: dict[type, Callable[[Any], Outcome]] = {
            InspectionCompletedEvent: self._inspection, SampleCollectedEvent: self._sample,
            AcceptanceCompletedEvent: self._acceptance, FigureReportedEvent: self._report,
            SurveyScoredEvent: self._survey, MilestoneReportedEvent: self._milestone,
            InspectionObjectedEvent: self._objection}
        self.objections: dict[str, Objection] = {}
        self.follow_ups: dict[str, FollowUp] = {}

    # ---- events -----------------------------------------------------------------------------
    def apply(self, event: Event) -> Outcome:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"unknown event type {type(event).__name__}")
        return handler(event)

    def standing_revision(self, event: Event) -> int | None:
        """For an inspection or acceptance that was ignored: the revision that stands (else None)."""
        if isinstance(event, InspectionCompletedEvent):
            inspection = self.current.inspections.get(event.data.sample_id)
            return inspection.revision if inspection is not None else None
        if isinstance(event, AcceptanceCompletedEvent):
            acceptance = self.current.acceptances.get(event.data.project_id)
            return acceptance.revision if acceptance is not None else None
        return None

    def _survey(self, event: SurveyScoredEvent) -> Outcome:
        d = event.data
        respondents, score = d.respondents, d.score
        return self._add(("survey", d.sector, d.region, local_day(event.occurred_at, self._tz)), 0, respondents,
                         score * respondents, score * score * respondents, event)

    def _milestone(self, event: MilestoneReportedEvent) -> Outcome:
        d = event.data
        return self._add(("milestone", d.indicator, d.region, local_day(event.occurred_at, self._tz)), d.count, 1,
                         0.0, 0.0, event)

    def _inspection(self, event: InspectionCompletedEvent) -> Outcome:
        d = event.data
        sample_id, inspections = d.sample_id, self.current.inspections
        current = inspections.get(sample_id)
        if current is not None and d.revision <= current.revision:
            return "ignored"
        inspections[sample_id] = InspectionState(
            sample_id=sample_id, programme=d.programme, indicator=self._programme_indicator[d.programme],
            category=d.category, region=d.region, verdict=d.verdict, revision=d.revision,
            occurred_at=event.occurred_at, event_id=event.event_id)
        self._replaced_inspections.add(sample_id)
        if d.follow_up_of is not None:
            self.follow_ups[sample_id] = FollowUp(sample_id, d.follow_up_of, self._programme_indicator[d.programme],
                                                  d.region, d.verdict, d.revision, event.occurred_at, event.event_id)
        return "applied"

    def _objection(self, event: InspectionObjectedEvent) -> Outcome:
        """An objection within the programme's period opens a re-test; a late one is refused (dead letter)."""
        d = event.data
        current = self.current.inspections.get(d.sample_id)
        check_objection(verdict=current.verdict if current else None,
                        inspected_at=current.occurred_at if current else None, objected_at=event.occurred_at,
                        days=self.catalogue.programmes[d.programme].objection_days, tz=self._tz,
                        sample_id=d.sample_id)
        assert current is not None
        if d.sample_id in self.objections:
            return "ignored"
        self.objections[d.sample_id] = Objection(d.sample_id, current.revision, event.occurred_at, event.event_id)
        return "applied"

    def _sample(self, event: SampleCollectedEvent) -> Outcome:
        d = event.data
        current = self.current.samples.get(d.sample_id)
        if current is not None and (current.collected_at, current.event_id) <= (event.occurred_at, event.event_id):
            return "ignored"
        self.current.samples[d.sample_id] = SampleState(
            sample_id=d.sample_id, programme=d.programme, category=d.category, region=d.region,
            collected_at=event.occurred_at, event_id=event.event_id)
        self._replaced_samples.add(d.sample_id)
        return "applied"

    def _acceptance(self, event: AcceptanceCompletedEvent) -> Outcome:
        d = event.data
        current = self.current.acceptances.get(d.project_id)
        if current is not None and d.revision <= current.revision:
            return "ignored"
        self.current.acceptances[d.project_id] = AcceptanceState(
            project_id=d.project_id, size=d.size, region=d.region, first_time_pass=d.first_time_pass,
            revision=d.revision, occurred_at=event.occurred_at, event_id=event.event_id)
        self._replaced_acceptances.add(d.project_id)
        return "applied"

    def _report(self, event: FigureReportedEvent) -> Outcome:
        d = event.data
        key = (d.indicator, d.region, d.period)
        report = ReportState(indicator=d.indicator, region=d.region, period=d.period, numerator=d.numerator,
                             denominator=d.denominator, value=d.value, occurred_at=event.occurred_at,
                             event_id=event.event_id)
        if not report.replaces(self.current.reports.get(key)):
            return "ignored"
        self.current.reports[key] = report
        self.touched_reports.add(key)
        path = self.catalogue.resolve_region(d.region)
        for level in path.levels if path else (d.region,):
            self._note((d.indicator, level, None), event.event_id)
        return "applied"

    def _add(self, group: tuple[str, str, str, dt.date], numerator: int, denominator: int, score_sum: float,
             score_sq_sum: float, event: SurveyScoredEvent | MilestoneReportedEvent) -> Outcome:
        sums = self.additions.get(group)
        if sums is None:
            self.additions[group] = [numerator, denominator, score_sum, score_sq_sum, event.occurred_at,
                                     [event.event_id]]
            return "applied"
        sums[0] += numerator
        sums[1] += denominator
        sums[2] += score_sum
        sums[3] += score_sq_sum
        if event.occurred_at > sums[4]:
            sums[4] = event.occurred_at
        keep_event_ids(sums[5], (event.event_id,))
        return "applied"

    # ---- results ----------------------------------------------------------------------------
    def changes(self) -> Changes:
        """Everything the batch changed (computes the tally deltas, which names the touched figures)."""
        tallies = self.tally_deltas()
        return Changes(self.changed_inspections(), self.changed_samples(), self.changed_acceptances(),
                       self.changed_reports(), tallies, self.event_ids, list(self.objections.values()),
                       list(self.follow_ups.values()))

    def changed_inspections(self) -> list[InspectionState]:
        return _changed(self.initial.inspections, self.current.inspections, self._replaced_inspections)

    def changed_samples(self) -> list[SampleState]:
        return _changed(self.initial.samples, self.current.samples, self._replaced_samples)

    def changed_acceptances(self) -> list[AcceptanceState]:
        return _changed(self.initial.acceptances, self.current.acceptances, self._replaced_acceptances)

    def changed_reports(self) -> list[ReportState]:
        return _changed(self.initial.reports, self.current.reports, self.touched_reports)

    def tally_deltas(self) -> Tallies:
        tallies = Tallies()
        # Up to five event ids per tally key the batch moved; mapped to figures once at the end.
        key_ids: dict[TallyKey, list[str]] = {}
        cat = self.catalogue
        for (kind, what, region, day), (num, den, score_sum, score_sq_sum, at, ids) in self.additions.items():
            vector = Vector(numerator=num, denominator=den, score_sum=score_sum, score_sq_sum=score_sq_sum)
            for key in (survey_keys if kind == "survey" else milestone_keys)(cat, what, region, day):
                tallies.add(key, vector, 1, at)
                note_event_ids(key_ids, key, ids)
        # Subjects are counted per signature (old state −1, new state +1), then each signature is
        # expanded into its tally items once: the per-subject work is a few dict operations.
        groups: dict[Signature, list] = {}  # signature → [count, latest instant, event ids]
        initial, current = self.initial, self.current
        sample_ids = self._replaced_samples | self._replaced_inspections
        for sample_id in sample_ids:
            old_i, new_i = initial.inspections.get(sample_id), current.inspections.get(sample_id)
            old_s, new_s = initial.samples.get(sample_id), current.samples.get(sample_id)
            # The events that moved the sample: those whose state replaced the loaded one.
            ids = [state.event_id for state, old in ((new_i, old_i), (new_s, old_s))
                   if state is not None and state is not old]
            if old_i is not None:
                _count(groups, inspection_signature(cat, old_i), -1, None, ids)
            if old_s is not None:
                _count(groups, sample_signature(cat, old_s, old_i), -1, None, ids)
            if new_i is not None:
                _count(groups, inspection_signature(cat, new_i), 1, new_i.occurred_at, ids)
            if new_s is not None:
                _count(groups, sample_signature(cat, new_s, new_i), 1, new_s.collected_at, ids)
        for project in self.changed_acceptances():
            old = initial.acceptances.get(project.project_id)
            ids = (project.event_id,)
            if old is not None:
                _count(groups, acceptance_signature(cat, old), -1, None, ids)
            _count(groups, acceptance_signature(cat, project), 1, project.occurred_at, ids)
        for signature, (count, at, ids) in groups.items():
            for key, v in signature_items(cat, signature):
                tallies.add(key, v, count, at)
                note_event_ids(key_ids, key, ids)
        for key, ids in key_ids.items():
            for figure in self._figures_of(key):
                for event_id in ids:
                    self._note(figure, event_id)
        return tallies

    def _figures_of(self, key: TallyKey) -> tuple[Touched, ...]:
        indicator, region, _day, category = key
        if category and indicator in self._inspection_indicators:
            return (indicator, region, None), (indicator, region, category)
        return ((indicator, region, None),)

    def _note(self, touched: Touched, event_id: str) -> None:
        note_event_ids(self.event_ids, touched, (event_id,))

    @property
    def touched(self) -> set[Touched]:
        return set(self.event_ids)


EVENT_IDS = 5  # event ids kept per figure (and per tally key, signature and survey group on the way there)


def keep_event_ids(known: list[str], event_ids: Iterable[str]) -> None:
    """Append ``event_ids`` to ``known`` until it holds ``EVENT_IDS``, skipping ids it already has."""
    for event_id in event_ids:
        if len(known) >= EVENT_IDS:
            return
        if event_id not in known:
            known.append(event_id)


def note_event_ids(into: dict[Any, list[str]], key: Any, event_ids: Sequence[str]) -> None:
    """Keep up to ``EVENT_IDS`` of ``event_ids`` for ``key`` in ``into``, the first seen first."""
    known = into.get(key)
    if known is None:
        into[key] = list(event_ids[:EVENT_IDS])
    else:
        keep_event_ids(known, event_ids)


def _count(groups: dict[Signature, list], signature: Signature | None, sign: int, at: dt.datetime | None,
           event_ids: Sequence[str]) -> None:
    if signature is None:
        return
    group = groups.get(signature)
    if group is None:
        groups[signature] = [sign, at, list(event_ids[:EVENT_IDS])]
        return
    group[0] += sign
    if at is not None and (group[1] is None or at > group[1]):
        group[1] = at
    keep_event_ids(group[2], event_ids)


def _changed(initial: dict, current: dict, replaced: set) -> list:
    """The current states of the ``replaced`` keys that differ from the loaded ones."""
    get = initial.get
    return [state for key in replaced
            if (state := current[key]) is not None and ((old := get(key)) is None or old != state)]
