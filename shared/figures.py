"""A figure as the indicator service serves it and publishes it to the alert service.

The JSON shape is the CONTRACT's ``GET /v1/indicators/{indicator}`` answer. Figure changes travel
on the ``qw.figures`` topic keyed by ``figure_key`` so that every change of one figure stays in
order on one partition.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.catalogue import Target
from shared.clock import Instant

# ``no_data``: nothing at all was reported for the figure (no sample, no report): missing is not bad,
# so it never fires an alert (issue 19); ``insufficient_data``: some data, below the minimum sample.
# Milestones after the plan's deadline: "achieved" or "missed", final (judged at the deadline).
FigureStatus = Literal["insufficient_data", "breach", "at_risk", "ok", "on_track", "behind", "achieved", "missed",
                       "no_data"]
Basis = Literal["all", "final"]


class Contributor(BaseModel):
    """A city's share of a provincial shortfall: ``points`` percentage points of the gap between the
    target and the provincial value come from this city (its n = ``denominator``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    points: float
    numerator: float
    denominator: float
    value: float | None


class Figure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator: str
    region: str
    category: str | None
    window: str
    as_of: Instant
    numerator: float | None
    denominator: float | None
    value: float | None
    ci95: tuple[float, float] | None
    target: Target
    status: FigureStatus
    last_event_at: Instant | None
    # Extensions beyond the contract (optional for readers):
    sample_size: int | None = None
    min_sample: int | None = None
    window_start: Instant | None = None
    window_end: Instant | None = None
    # Failing verdicts still inside their objection period (or objected, awaiting the re-test): counted
    # in ``denominator`` under basis ``all``; left out (with their failures) under basis ``final``.
    provisional: int | None = None
    basis: Basis = "all"
    # A provincial pass rate below target: the cities contributing most to the gap (issue 19).
    contributors: tuple[Contributor, ...] | None = None

    @property
    def key(self) -> str:
        return figure_key(self.indicator, self.region, self.category, self.window)


class FigureChanged(BaseModel):
    """Published by indicators whenever a figure's status or value changes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    figure: Figure
    previous_status: FigureStatus | None = None
    # A few event ids that moved the figure, so one event can be traced to a webhook.
    event_ids: tuple[str, ...] = ()
    changed_at: dt.datetime


def figure_key(indicator: str, region: str, category: str | None, window: str) -> str:
    return f"{indicator}|{region}|{category or '*'}|{window}"
