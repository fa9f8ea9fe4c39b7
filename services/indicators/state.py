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


@dataclass(slots=True)  # not frozen: built per event on the hot path (5x cheaper); never mutated
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


@dataclass(slots=True)  # not frozen: built per event on the hot path (5x cheaper); never mutated
class SampleState:
    sample_id: str
    programme: str
    category: str
    region: str
    collected_at: dt.datetime
    event_id: str


@dataclass(slots=True)  # not frozen: built per event on the hot path (5x cheaper); never mutated
class AcceptanceState:
    project_id: str
    size: str
    region: str
    first_time_pass: bool
    revision: int
    occurred_at: dt.datetime
    event_id: str


@dataclass(slots=True)  # not frozen: built per event on the hot path (5x cheaper); never mutated
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
        row = self.sums.get(key)
        if row is None:
            row = self.sums[key] = [0, 0, 0, 0.0, 0.0]
        row[0] += sign * vector.numerator
        row[1] += sign * vector.denominator
        row[2] += sign * vector.extra
        row[3] += sign * vector.score_sum
        row[4] += sign * vector.score_sq_sum
        if at is not None:
            self._seen(key, at)

    def _seen(self, key: TallyKey, at: dt.datetime) -> None:
        previous = self.last_event_at.get(key)
        if previous is None or at > previous:
            self.last_event_at[key] = at

    def add_all(self, items: Iterator[tuple[TallyKey, Vector, dt.datetime]], sign: int = 1) -> None:
        for key, vector, at in items:
            self.add(key, vector, sign, at if sign > 0 else None)

    def nonzero(self) -> dict[TallyKey, list[float]]:
        return {k: v for k, v in self.sums.items() if any(v) or k in self.last_event_at}

    def by_month(self) -> Tallies:
        """The same changes per calendar month: each key's day becomes its month's first day."""
        months = Tallies()
        for key, sums in self.nonzero().items():
            indicator, region, day, category = key
            month = (indicator, region, day.replace(day=1), category)
            row = months.sums.setdefault(month, [0, 0, 0, 0.0, 0.0])
            for i, value in enumerate(sums):
                row[i] += value
            if (at := self.last_event_at.get(key)) is not None:
                months._seen(month, at)
        return months


Contribution = tuple[TallyKey, Vector, dt.datetime]

# Vectors are immutable: the few the hot path needs are built once.
_PASSED, _FAILED = Vector(numerator=1, denominator=1), Vector(numerator=0, denominator=1)
_COLLECTED = Vector(numerator=1, denominator=1)
_ACCEPTED, _NOT_ACCEPTED = Vector(numerator=1, denominator=1), Vector(numerator=0, denominator=1)
_COMPLETION = {(within, inspected): Vector(numerator=int(within), denominator=1, extra=int(inspected))
               for within in (False, True) for inspected in (False, True)}


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
        # Completion windows of the sample specs that are not quota coverage, in ``sample_specs`` order.
        self.completion_days = tuple(days for _id, kind, days in self.sample_specs if kind != "quota_coverage")
        self.never_within = (False,) * len(self.completion_days)
        self.programme_indicator = {programme_id: programme.indicator
                                    for programme_id, programme in catalogue.programmes.items()}
        self.items: dict[tuple, tuple[tuple[TallyKey, Vector], ...]] = {}  # signature → items
        self.programme_categories = frozenset((programme_id, category)
                                              for programme_id, programme in catalogue.programmes.items()
                                              for category in programme.categories)

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


# A subject's signature: everything its contribution depends on except its instant. Subjects with
# equal signatures contribute the same (key, vector) items, so a batch can count subjects per
# signature and expand each signature once (``signature_items``).
Signature = tuple
# Signatures kept expanded (~1 KB each): a few days of a province's. It was 100,000 and filled once, never
# emptied: ~100 MB of history's signatures held for good and none of today's (bench/RESULTS.md).
SIGNATURE_CACHE = 20_000


def inspection_signature(catalogue: Catalogue, inspection: InspectionState | None) -> Signature | None:
    if inspection is None:
        return None
    return ("inspection", inspection.indicator, inspection.region, local_day(inspection.occurred_at, catalogue.tz),
            inspection.category, inspection.verdict == "pass")


def sample_signature(catalogue: Catalogue, sample: SampleState | None,
                     inspection: InspectionState | None) -> Signature | None:
    """Quota coverage and completion share, both by the sample's collection day and region."""
    if sample is None:
        return None
    at = sample.collected_at
    index = catalogue_index(catalogue)
    if inspection is None:
        within = index.never_within
    else:
        inspected = inspection.occurred_at - at
        within = tuple([inspected <= days for days in index.completion_days])
    return ("sample", sample.programme, sample.region, local_day(at, catalogue.tz), inspection is not None, within)


def acceptance_signature(catalogue: Catalogue, acceptance: AcceptanceState | None) -> Signature | None:
    if acceptance is None:
        return None
    return ("acceptance", acceptance.size, acceptance.region, local_day(acceptance.occurred_at, catalogue.tz),
            bool(acceptance.first_time_pass))


def signature_items(catalogue: Catalogue, signature: Signature) -> tuple[tuple[TallyKey, Vector], ...]:
    """The (tally key, vector) items of a subject with this signature (cached per catalogue)."""
    index = catalogue_index(catalogue)
    found = index.items.get(signature)
    if found is None:
        found = tuple(_expand(index, signature))
        if len(index.items) >= SIGNATURE_CACHE:  # a day's signatures refill it; old days never come back
            index.items.clear()
        index.items[signature] = found
    return found


def _expand(index: CatalogueIndex, signature: Signature) -> Iterator[tuple[TallyKey, Vector]]:
    kind = signature[0]
    if kind == "inspection":
        _, indicator, region, day, category, passed = signature
        vector = _PASSED if passed else _FAILED
        for level in index.levels(region):
            yield (indicator, level, day, category), vector
    elif kind == "sample":
        _, programme, region, day, inspected, within = signature
        withins = iter(within)
        for indicator, spec_kind, _days in index.sample_specs:
            vector = _COLLECTED if spec_kind == "quota_coverage" else _COMPLETION[(next(withins), inspected)]
            for level in index.levels(region):
                yield (indicator, level, day, programme), vector
    elif kind == "acceptance":
        _, size, region, day, first_time_pass = signature
        vector = _ACCEPTED if first_time_pass else _NOT_ACCEPTED
        for indicator, sizes in index.acceptance_specs:
            if sizes and size not in sizes:
                continue
            for level in index.levels(region):
                yield (indicator, level, day, NO_CATEGORY), vector
    else:
        raise ValueError(f"unknown signature {signature!r}")


def inspection_contributions(catalogue: Catalogue, inspection: InspectionState | None) -> Iterator[Contribution]:
    signature = inspection_signature(catalogue, inspection)
    if signature is not None:
        for key, vector in signature_items(catalogue, signature):
            yield key, vector, inspection.occurred_at  # type: ignore[union-attr]  # not None: it has a signature


def sample_contributions(catalogue: Catalogue, sample: SampleState | None,
                         inspection: InspectionState | None) -> Iterator[Contribution]:
    signature = sample_signature(catalogue, sample, inspection)
    if signature is not None:
        for key, vector in signature_items(catalogue, signature):
            yield key, vector, sample.collected_at  # type: ignore[union-attr]  # not None: it has a signature


def acceptance_contributions(catalogue: Catalogue, acceptance: AcceptanceState | None) -> Iterator[Contribution]:
    signature = acceptance_signature(catalogue, acceptance)
    if signature is not None:
        for key, vector in signature_items(catalogue, signature):
            yield key, vector, acceptance.occurred_at  # type: ignore[union-attr]  # not None: it has a signature


def survey_keys(catalogue: Catalogue, sector: str, region: str, day: dt.date) -> Iterator[TallyKey]:
    """The tally keys a survey of ``sector`` in ``region`` on ``day`` adds to."""
    for indicator in catalogue_index(catalogue).survey_specs.get(sector, ()):
        for level in _levels(catalogue, region):
            yield indicator, level, day, NO_CATEGORY


def milestone_keys(catalogue: Catalogue, indicator: str, region: str, day: dt.date) -> Iterator[TallyKey]:
    """The tally keys a milestone report of ``indicator`` in ``region`` on ``day`` adds to."""
    for level in _levels(catalogue, region):
        yield indicator, level, day, NO_CATEGORY
