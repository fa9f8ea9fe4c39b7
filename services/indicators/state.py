"""Subject state (one sample, one project, one reported figure) and what it contributes to the
daily tallies (pure).

A subject's contribution is a function of its current state only, so applying a change is
``tallies -= contributions(old); tallies += contributions(new)``: counts move when a revision
replaces a verdict (even to another day, region or category) and the order of arrival does not
matter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from services.indicators.models import NO_CATEGORY
from services.indicators.windows import local_day
from shared.catalogue import Catalogue

TallyKey = tuple[str, str, dt.date, str]  # indicator, region, CST day, category


@dataclass(frozen=True, slots=True)
class InspectionState:
    sample_id: str
    programme: str
    indicator: str
    category: str
    region: str
    verdict: str
    revision: int
    occurred_at: dt.datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class SampleState:
    sample_id: str
    programme: str
    category: str
    region: str
    collected_at: dt.datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class AcceptanceState:
    project_id: str
    size: str
    region: str
    first_time_pass: bool
    revision: int
    occurred_at: dt.datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class ReportState:
    indicator: str
    region: str
    period: str
    numerator: int | None
    denominator: int | None
    value: float | None
    occurred_at: dt.datetime
    event_id: str

    def replaces(self, other: ReportState | None) -> bool:
        """A later report (by occurred_at, then event_id) replaces an earlier one."""
        return other is None or (self.occurred_at, self.event_id) > (other.occurred_at, other.event_id)


@dataclass(frozen=True, slots=True)
class Vector:
    numerator: int = 0
    denominator: int = 0
    extra: int = 0
    score_sum: float = 0.0
    score_sq_sum: float = 0.0


class Tallies:
    """Accumulated signed changes per tally key, plus the latest event time per key."""

    def __init__(self) -> None:
        self.sums: dict[TallyKey, list[float]] = {}
        self.last_event_at: dict[TallyKey, dt.datetime] = {}

    def add(self, key: TallyKey, vector: Vector, sign: int = 1, at: dt.datetime | None = None) -> None:
        row = self.sums.setdefault(key, [0, 0, 0, 0.0, 0.0])
        row[0] += sign * vector.numerator
        row[1] += sign * vector.denominator
        row[2] += sign * vector.extra
        row[3] += sign * vector.score_sum
        row[4] += sign * vector.score_sq_sum
        if at is not None:
            previous = self.last_event_at.get(key)
            if previous is None or at > previous:
                self.last_event_at[key] = at

    def add_all(self, items: Iterator[tuple[TallyKey, Vector, dt.datetime]], sign: int = 1) -> None:
        for key, vector, at in items:
            self.add(key, vector, sign, at if sign > 0 else None)

    def nonzero(self) -> dict[TallyKey, list[float]]:
        return {k: v for k, v in self.sums.items() if any(v) or k in self.last_event_at}


Contribution = tuple[TallyKey, Vector, dt.datetime]


class CatalogueIndex:
    """Look-ups the hot path repeats for every event, computed once per catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._levels: dict[str, tuple[str, ...]] = {}
        self.sample_specs = [(s.id, s.kind, dt.timedelta(days=s.completion_days or 30)) for s in catalogue.indicators
                             if s.kind in ("quota_coverage", "completion_share")]
        self.acceptance_specs = [(s.id, s.acceptance_sizes) for s in catalogue.indicators if s.source == "acceptance"]
        self.survey_specs = {sector: [s.id for s in catalogue.indicators
                                      if s.kind == "mean_score" and s.survey_sector == sector]
                             for sector in ("producer_services", "consumer_services")}
        self.inspection_indicators = {s.id for s in catalogue.indicators if s.source == "inspection"}

    def levels(self, region: str) -> tuple[str, ...]:
        found = self._levels.get(region)
        if found is None:
            path = self.catalogue.resolve_region(region)
            found = path.levels if path else ()
            if len(self._levels) < 100_000:
                self._levels[region] = found
        return found


_INDEXES: dict[int, CatalogueIndex] = {}


def catalogue_index(catalogue: Catalogue) -> CatalogueIndex:
    index = _INDEXES.get(id(catalogue))
    if index is None or index.catalogue is not catalogue:
        index = _INDEXES[id(catalogue)] = CatalogueIndex(catalogue)
    return index


def _levels(catalogue: Catalogue, region: str) -> tuple[str, ...]:
    return catalogue_index(catalogue).levels(region)


def inspection_contributions(catalogue: Catalogue, inspection: InspectionState | None) -> Iterator[Contribution]:
    if inspection is None:
        return
    day = local_day(inspection.occurred_at, catalogue.tz)
    vector = Vector(numerator=1 if inspection.verdict == "pass" else 0, denominator=1)
    for region in _levels(catalogue, inspection.region):
        yield (inspection.indicator, region, day, inspection.category), vector, inspection.occurred_at


def sample_contributions(catalogue: Catalogue, sample: SampleState | None,
                         inspection: InspectionState | None) -> Iterator[Contribution]:
    """Quota coverage and completion share, both by the sample's collection day and region."""
    if sample is None:
        return
    day = local_day(sample.collected_at, catalogue.tz)
    index = catalogue_index(catalogue)
    levels = index.levels(sample.region)
    for indicator, kind, days in index.sample_specs:
        if kind == "quota_coverage":
            vector = Vector(numerator=1, denominator=1)
        else:
            within = inspection is not None and inspection.occurred_at - sample.collected_at <= days
            vector = Vector(numerator=int(within), denominator=1, extra=int(inspection is not None))
        for region in levels:
            yield (indicator, region, day, sample.programme), vector, sample.collected_at


def acceptance_contributions(catalogue: Catalogue, acceptance: AcceptanceState | None) -> Iterator[Contribution]:
    if acceptance is None:
        return
    day = local_day(acceptance.occurred_at, catalogue.tz)
    vector = Vector(numerator=int(acceptance.first_time_pass), denominator=1)
    for indicator, sizes in catalogue_index(catalogue).acceptance_specs:
        if sizes and acceptance.size not in sizes:
            continue
        for region in _levels(catalogue, acceptance.region):
            yield (indicator, region, day, NO_CATEGORY), vector, acceptance.occurred_at


def survey_contributions(catalogue: Catalogue, sector: str, region: str, score: float, respondents: int,
                         occurred_at: dt.datetime) -> Iterator[Contribution]:
    day = local_day(occurred_at, catalogue.tz)
    vector = Vector(denominator=respondents, score_sum=score * respondents, score_sq_sum=score * score * respondents)
    for indicator in catalogue_index(catalogue).survey_specs.get(sector, ()):
        for level in _levels(catalogue, region):
            yield (indicator, level, day, NO_CATEGORY), vector, occurred_at


def milestone_contributions(catalogue: Catalogue, indicator: str, region: str, count: int,
                            occurred_at: dt.datetime) -> Iterator[Contribution]:
    day = local_day(occurred_at, catalogue.tz)
    vector = Vector(numerator=count, denominator=1)
    for level in _levels(catalogue, region):
        yield (indicator, level, day, NO_CATEGORY), vector, occurred_at
