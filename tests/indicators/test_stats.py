"""Wilson intervals and status judgement, table-driven, with properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.indicators.stats import judge, judge_milestone, judge_pace, mean_interval, wilson_interval
from shared.catalogue import Target

AT_LEAST_97 = Target(op=">=", value=0.97)
AT_LEAST_100 = Target(op=">=", value=1.0)
AT_MOST_5 = Target(op="<=", value=0.05)


@pytest.mark.parametrize(("successes", "n", "expected"), [
    (970, 1000, (0.9575, 0.9789)),  # CONTRACT "Figures" example
    (951, 1000, (0.9358, 0.9627)),  # CONTRACT webhook example
    (0, 10, (0.0, 0.2775)),
    (10, 10, (0.7225, 1.0)),
    (1, 2, (0.0945, 0.9055)),
])
def test_wilson_interval_matches_known_values(successes: int, n: int, expected: tuple[float, float]) -> None:
    lo, hi = wilson_interval(successes, n)
    assert (round(lo, 4), round(hi, 4)) == expected


def test_wilson_interval_rejects_an_empty_sample() -> None:
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_interval(0, 0)


def test_wilson_interval_rejects_more_successes_than_trials() -> None:
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(11, 10)


@given(st.integers(1, 100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_estimate_and_stays_in_unit_range(pair: tuple[int, int]) -> None:
    successes, n = pair
    lo, hi = wilson_interval(successes, n)
    assert 0.0 <= lo <= successes / n + 1e-12
    assert successes / n - 1e-12 <= hi <= 1.0


@given(st.integers(0, 500), st.integers(1, 20))
def test_wilson_interval_narrows_as_the_sample_grows(successes_per_100: int, factor: int) -> None:
    n = 100
    k = min(successes_per_100, n)
    small = wilson_interval(k, n)
    large = wilson_interval(k * factor * 2, n * factor * 2)
    assert large[1] - large[0] <= small[1] - small[0] + 1e-12


@pytest.mark.parametrize(("value", "ci", "n", "target", "min_sample", "status"), [
    (0.97, (0.9575, 0.9789), 1000, AT_LEAST_97, 30, "ok"),
    (0.951, (0.9358, 0.9627), 1000, AT_LEAST_97, 30, "breach"),  # whole interval below 0.97
    (0.96, (0.9468, 0.9704), 1000, AT_LEAST_97, 30, "at_risk"),  # below, interval reaches 0.97
    (1.0, (0.88, 1.0), 29, AT_LEAST_97, 30, "insufficient_data"),
    (0.5, (0.1, 0.9), 10, AT_LEAST_97, 30, "insufficient_data"),
    (0.99, (0.95, 0.998), 100, AT_LEAST_100, 30, "breach"),  # 100 % target: any failure breaches
    (1.0, (0.96, 1.0), 100, AT_LEAST_100, 30, "ok"),
    (0.04, (0.02, 0.07), 500, AT_MOST_5, 30, "ok"),
    (0.06, (0.04, 0.08), 500, AT_MOST_5, 30, "at_risk"),  # lower is better: mirror
    (0.09, (0.07, 0.11), 500, AT_MOST_5, 30, "breach"),
    (None, None, 0, AT_LEAST_97, 30, "insufficient_data"),
    (84.0, None, None, Target(op=">=", value=88), 30, "breach"),  # a reported value: no interval
    (90.0, None, None, Target(op=">=", value=88), 30, "ok"),
])
def test_judge_gives_the_contract_status(value, ci, n, target, min_sample, status) -> None:  # noqa: ANN001
    assert judge(value, ci, n, target, min_sample) == status


@pytest.mark.parametrize(("value", "status"), [(1.2, "ok"), (1.0, "ok"), (0.95, "at_risk"), (0.9, "at_risk"),
                                               (0.89, "breach"), (None, "insufficient_data")])
def test_quota_pace_is_at_risk_below_target_and_breached_below_ninety_percent(value, status) -> None:  # noqa: ANN001
    assert judge_pace(value, Target(op=">=", value=1.0)) == status


def test_milestone_is_on_track_at_linear_pace_and_behind_below_it() -> None:
    assert judge_milestone(10, 10.0) == "on_track"
    assert judge_milestone(9, 9.5) == "behind"


def test_after_the_deadline_a_milestone_is_achieved_or_missed() -> None:
    assert judge_milestone(20, 20.0, final=True) == "achieved"
    assert judge_milestone(19, 20.0, final=True) == "missed"


def test_mean_interval_is_centred_on_the_weighted_mean() -> None:
    # 10 respondents scoring 80 and 10 scoring 90: mean 85, sample sd ≈ 5.13
    total, sum_sq, n = 80 * 10 + 90 * 10, 80 * 80 * 10 + 90 * 90 * 10, 20
    lo, hi = mean_interval(total, sum_sq, n)
    assert (lo + hi) / 2 == pytest.approx(85)
    assert hi - lo == pytest.approx(2 * 1.959964 * (500 / 19) ** 0.5 / 20 ** 0.5)
    assert mean_interval(85, 85 * 85, 1) is None
