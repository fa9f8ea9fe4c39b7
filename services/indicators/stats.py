"""Pure statistics for figures: Wilson score intervals, a normal interval for means, and judging.

Status rules (CONTRACT "Figures"):

- ``insufficient_data`` when the sample size is below the indicator's minimum sample;
- ``breach`` when the whole 95 % interval lies on the wrong side of the target; with no interval
  (a reported value, a mean without spread) the value itself is the interval; a 100 % target
  (``>= 1.0``) is breached by any failure once the minimum sample is reached;
- ``at_risk`` when the value is on the wrong side but the interval reaches the target;
- ``ok`` otherwise.

Pace rules (quota coverage, milestones) are separate: see ``judge_pace`` and ``judge_milestone``.
"""

from __future__ import annotations

import math

from shared.catalogue import Target
from shared.figures import FigureStatus

Z95 = 1.959964
# Quota coverage: below the pace target is at_risk, below this share of it is a breach.
PACE_BREACH_SHARE = 0.9

Interval = tuple[float, float]


def wilson_interval(successes: int | float, n: int | float, z: float = Z95) -> Interval:
    """The Wilson score interval for ``successes`` out of ``n`` (n > 0)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must lie between 0 and n")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(total: float, sum_sq: float, n: int | float, z: float = Z95) -> Interval | None:
    """A normal-approximation interval for a weighted mean from Σx·w, Σx²·w and Σw (None if n < 2)."""
    if n < 2:
        return None
    mean = total / n
    variance = max(0.0, (sum_sq / n - mean * mean) * n / (n - 1))
    half = z * math.sqrt(variance / n)
    return mean - half, mean + half


def judge(value: float | None, ci: Interval | None, n: int | float | None, target: Target,
          min_sample: int) -> FigureStatus:
    """The status of a rate, share, mean or reported value against its target."""
    if value is None or (n is not None and n < min_sample):
        return "insufficient_data"
    if target.met_by(value):
        return "ok"
    if target.op == ">=" and target.value == 1.0:
        return "breach"
    lo, hi = ci if ci is not None else (value, value)
    # The interval end nearest the target: the high end for higher-is-better targets.
    nearest = hi if target.higher_is_better else lo
    return "at_risk" if target.met_by(nearest) else "breach"


def judge_pace(value: float | None, target: Target, breach_share: float = PACE_BREACH_SHARE) -> FigureStatus:
    """Quota coverage (collected / expected to date): ok at or above target, at_risk below it,
    breach below ``breach_share`` × target (no interval: the expected count is not a sample)."""
    if value is None:
        return "insufficient_data"
    if target.met_by(value):
        return "ok"
    return "at_risk" if target.met_by(value / breach_share) else "breach"


def judge_milestone(count: float, expected: float, *, final: bool = False) -> FigureStatus:
    """Milestones: on_track when the cumulative count keeps linear pace to the deadline. Once the deadline
    has passed (``final``) the verdict is the plan's own and does not change: achieved or missed."""
    if final:
        return "achieved" if count >= expected else "missed"
    return "on_track" if count >= expected else "behind"
