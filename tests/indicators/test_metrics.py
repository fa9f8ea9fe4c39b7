"""Indicators' metrics helpers."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.indicators.metrics import IndicatorsMetrics, observe_many


@pytest.mark.parametrize("count", [1, 7, 1000])
def test_observing_many_equal_latencies_at_once_equals_observing_them_one_by_one(count: int) -> None:
    one_by_one, at_once = IndicatorsMetrics(CollectorRegistry()), IndicatorsMetrics(CollectorRegistry())
    for _ in range(count):
        one_by_one.event_latency_seconds.observe(0.07)
    observe_many(at_once.event_latency_seconds, 0.07, count)

    def samples(m: IndicatorsMetrics) -> list[tuple[str, dict[str, str], float]]:
        return [(s.name, s.labels, s.value) for metric in m.event_latency_seconds.collect() for s in metric.samples
                if not s.name.endswith("_created")]

    expected, got = samples(one_by_one), samples(at_once)
    assert [(name, labels) for name, labels, _ in got] == [(name, labels) for name, labels, _ in expected]
    assert [value for *_, value in got] == pytest.approx([value for *_, value in expected])  # the sum: rounding
