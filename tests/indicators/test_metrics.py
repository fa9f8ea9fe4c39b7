"""Indicators' metrics helpers."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.indicators.metrics import IndicatorsMetrics, observe_counts

OBSERVATIONS = {
    "one amount, once": [(0.07, 1)],
    "one amount, many times": [(0.07, 1000)],
    "on bucket bounds, at zero and past the last bound": [(0.0, 2), (0.01, 3), (0.025, 1), (60.0, 4), (61.5, 5)],
    "many amounts, some repeated": [(0.003 * i, 1 + i % 3) for i in range(400)],
}


@pytest.mark.parametrize("observations", OBSERVATIONS.values(), ids=OBSERVATIONS.keys())
def test_observing_counts_at_once_equals_observing_them_one_by_one(observations: list[tuple[float, int]]) -> None:
    one_by_one, at_once = IndicatorsMetrics(CollectorRegistry()), IndicatorsMetrics(CollectorRegistry())
    for amount, count in observations:
        for _ in range(count):
            one_by_one.event_latency_seconds.observe(amount)
    observe_counts(at_once.event_latency_seconds, observations)

    def samples(m: IndicatorsMetrics) -> list[tuple[str, dict[str, str], float]]:
        return [(s.name, s.labels, s.value) for metric in m.event_latency_seconds.collect() for s in metric.samples
                if not s.name.endswith("_created")]

    expected, got = samples(one_by_one), samples(at_once)
    assert [(name, labels) for name, labels, _ in got] == [(name, labels) for name, labels, _ in expected]
    assert [value for *_, value in got] == pytest.approx([value for *_, value in expected])  # the sum: rounding
