"""Applying a batch of events to subject state in memory (pure; the store loads and saves).

Rules:
- inspection / acceptance: a higher ``revision`` replaces the current one; a lower or equal one is
  ignored (and counted), so revision 1 arriving after revision 2 changes nothing;
- sample.collected: the earliest collection (by occurred_at, then event_id) is kept, whatever the
  arrival order; a later one for the same sample_id is ignored;
- figure.reported: the latest report (by occurred_at, then event_id) per indicator/region/period;
- survey.scored and milestone.reported only add.

``tally_deltas()`` gives, per tally key, new contributions minus the ones loaded at the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from services.indicators.state import (
    AcceptanceState,
    InspectionState,
    ReportState,
    SampleState,
    Tallies,
    TallyKey,
    acceptance_contributions,
    catalogue_index,
    inspection_contributions,
    milestone_contributions,
    sample_contributions,
    survey_contributions,
)
from shared.catalogue import Catalogue
from shared.events import (
    AcceptanceCompletedEvent,
    Event,
    FigureReportedEvent,
    InspectionCompletedEvent,
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
        data = event.data
        if isinstance(event, SampleCollectedEvent | InspectionCompletedEvent):
            samples.add(data.sample_id)  # type: ignore[union-attr]
        elif isinstance(event, AcceptanceCompletedEvent):
            projects.add(event.data.project_id)
        elif isinstance(event, FigureReportedEvent):
            reports.add((event.data.indicator, event.data.region, event.data.period))
    return samples, projects, reports


class Applier:
    def __init__(self, catalogue: Catalogue, initial: SubjectState) -> None:
        self.catalogue = catalogue
        self.initial = initial
        self.current = SubjectState(dict(initial.inspections), dict(initial.samples),
                                    dict(initial.acceptances), dict(initial.reports))
        self.additive = Tallies()
        self.touched_reports: set[ReportKey] = set()
        self.event_ids: dict[Touched, list[str]] = {}
        self._additive_touched: dict[TallyKey, str] = {}
        self._subject_events: dict[str, list[str]] = {}
        self._inspection_indicators = catalogue_index(catalogue).inspection_indicators

    # ---- events -----------------------------------------------------------------------------
    def apply(self, event: Event) -> Outcome:
        match event:
            case InspectionCompletedEvent():
                return self._inspection(event)
            case SampleCollectedEvent():
                return self._sample(event)
            case AcceptanceCompletedEvent():
                return self._acceptance(event)
            case FigureReportedEvent():
                return self._report(event)
            case SurveyScoredEvent():
                d = event.data
                items = survey_contributions(self.catalogue, d.sector, d.region, d.score, d.respondents,
                                             event.occurred_at)
                return self._add(items, event.event_id)
            case MilestoneReportedEvent():
                d = event.data
                items = milestone_contributions(self.catalogue, d.indicator, d.region, d.count, event.occurred_at)
                return self._add(items, event.event_id)
        raise TypeError(f"unknown event type {type(event).__name__}")

    def _inspection(self, event: InspectionCompletedEvent) -> Outcome:
        d = event.data
        current = self.current.inspections.get(d.sample_id)
        if current is not None and d.revision <= current.revision:
            return "ignored"
        programme = self.catalogue.programmes[d.programme]
        self.current.inspections[d.sample_id] = InspectionState(
            sample_id=d.sample_id, programme=d.programme, indicator=programme.indicator, category=d.category,
            region=d.region, verdict=d.verdict, revision=d.revision, occurred_at=event.occurred_at,
            event_id=event.event_id)
        self._subject_events.setdefault(f"sample:{d.sample_id}", []).append(event.event_id)
        return "applied"

    def _sample(self, event: SampleCollectedEvent) -> Outcome:
        d = event.data
        current = self.current.samples.get(d.sample_id)
        if current is not None and (current.collected_at, current.event_id) <= (event.occurred_at, event.event_id):
            return "ignored"
        self.current.samples[d.sample_id] = SampleState(
            sample_id=d.sample_id, programme=d.programme, category=d.category, region=d.region,
            collected_at=event.occurred_at, event_id=event.event_id)
        self._subject_events.setdefault(f"sample:{d.sample_id}", []).append(event.event_id)
        return "applied"

    def _acceptance(self, event: AcceptanceCompletedEvent) -> Outcome:
        d = event.data
        current = self.current.acceptances.get(d.project_id)
        if current is not None and d.revision <= current.revision:
            return "ignored"
        self.current.acceptances[d.project_id] = AcceptanceState(
            project_id=d.project_id, size=d.size, region=d.region, first_time_pass=d.first_time_pass,
            revision=d.revision, occurred_at=event.occurred_at, event_id=event.event_id)
        self._subject_events.setdefault(f"project:{d.project_id}", []).append(event.event_id)
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

    def _add(self, items: Iterable, event_id: str) -> Outcome:
        for key, vector, at in items:
            self.additive.add(key, vector, 1, at)
            self._additive_touched[key] = event_id
        return "applied"

    # ---- results ----------------------------------------------------------------------------
    def changed_inspections(self) -> list[InspectionState]:
        return _changed(self.initial.inspections, self.current.inspections)

    def changed_samples(self) -> list[SampleState]:
        return _changed(self.initial.samples, self.current.samples)

    def changed_acceptances(self) -> list[AcceptanceState]:
        return _changed(self.initial.acceptances, self.current.acceptances)

    def changed_reports(self) -> list[ReportState]:
        return _changed(self.initial.reports, self.current.reports)

    def tally_deltas(self) -> Tallies:
        tallies = Tallies()
        for key, row in self.additive.sums.items():
            tallies.sums[key] = list(row)
        tallies.last_event_at.update(self.additive.last_event_at)
        for key, event_id in self._additive_touched.items():
            self._note_tally(key, event_id)
        cat = self.catalogue
        sample_ids = {s.sample_id for s in self.changed_samples()} | {i.sample_id for i in self.changed_inspections()}
        for sample_id in sample_ids:
            old_i, new_i = self.initial.inspections.get(sample_id), self.current.inspections.get(sample_id)
            old_s, new_s = self.initial.samples.get(sample_id), self.current.samples.get(sample_id)
            ids = self._subject_events.get(f"sample:{sample_id}", [])
            self._diff(tallies, inspection_contributions(cat, old_i), inspection_contributions(cat, new_i), ids)
            self._diff(tallies, sample_contributions(cat, old_s, old_i), sample_contributions(cat, new_s, new_i), ids)
        for project in self.changed_acceptances():
            old = self.initial.acceptances.get(project.project_id)
            ids = self._subject_events.get(f"project:{project.project_id}", [])
            self._diff(tallies, acceptance_contributions(cat, old), acceptance_contributions(cat, project), ids)
        return tallies

    def _diff(self, tallies: Tallies, old: Iterable, new: Iterable, event_ids: list[str]) -> None:
        figures: set[Touched] = set()
        for key, vector, _at in old:
            tallies.add(key, vector, -1)
            figures.update(self._figures_of(key))
        for key, vector, at in new:
            tallies.add(key, vector, 1, at)
            figures.update(self._figures_of(key))
        for figure in figures:
            for event_id in event_ids:
                self._note(figure, event_id)

    def _figures_of(self, key: TallyKey) -> tuple[Touched, ...]:
        indicator, region, _day, category = key
        if category and indicator in self._inspection_indicators:
            return (indicator, region, None), (indicator, region, category)
        return ((indicator, region, None),)

    def _note_tally(self, key: TallyKey, *event_ids: str) -> None:
        for figure in self._figures_of(key):
            for event_id in event_ids:
                self._note(figure, event_id)

    def _note(self, touched: Touched, event_id: str) -> None:
        ids = self.event_ids.setdefault(touched, [])
        if len(ids) < 5 and event_id not in ids:
            ids.append(event_id)

    @property
    def touched(self) -> set[Touched]:
        return set(self.event_ids)


def _changed(initial: dict, current: dict) -> list:
    return [state for key, state in current.items() if state is not None and initial.get(key) != state]
