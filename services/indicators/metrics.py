"""Prometheus metrics of the indicator service (names fixed: dashboards and rules use them)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.indicators.decode import DEAD_LETTER_REASONS
from shared.events import EVENT_TYPES
from shared.figures import FigureStatus

STATUSES: tuple[FigureStatus, ...] = ("ok", "at_risk", "breach", "insufficient_data", "on_track", "behind",
                                   "achieved", "missed", "no_data")


def observe_counts(histogram: Histogram, observations: Iterable[tuple[float, int]]) -> None:
    """For each ``(amount, count)``, ``count`` observations of ``amount``: what as many calls of
    ``histogram.observe(amount)`` record, with one increment per bucket (a batch's events carry a few
    ``qw-received-at`` stamps when they came in batches, one each when they came one by one)."""
    buckets = getattr(histogram, "_buckets", None)
    bounds = getattr(histogram, "_upper_bounds", None)
    total = getattr(histogram, "_sum", None)
    if buckets is None or bounds is None or total is None:  # another prometheus_client layout
        for amount, count in observations:
            for _ in range(count):
                histogram.observe(amount)
        return
    per_bucket = [0] * len(bounds)  # the last bound is +Inf: every amount has a bucket
    amounts = 0.0
    for amount, count in observations:
        per_bucket[bisect.bisect_left(bounds, amount)] += count
        amounts += amount * count
    total.inc(amounts)
    for bucket, count in zip(buckets, per_bucket, strict=True):
        if count:
            bucket.inc(count)


class IndicatorsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events_applied = Counter("qw_indicators_events_applied_total", "Events applied to the figures",
                                      ["type"], registry=registry)
        self.consumer_lag = Gauge("qw_indicators_consumer_lag", "End offset minus position, per partition",
                                  ["topic", "partition"], registry=registry)
        self.processing_seconds = Histogram(
            "qw_indicators_processing_seconds", "Time to apply one consumed batch (one transaction)",
            registry=registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.event_latency_seconds = Histogram(
            "qw_indicators_event_latency_seconds", "From acceptance by intake (qw-received-at) to applied",
            registry=registry, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.dead_letters = Counter("qw_indicators_dead_letters_total", "Messages sent to the dead-letter topic",
                                    ["reason"], registry=registry)
        self.figures_published = Counter("qw_indicators_figures_published_total",
                                         "Figure changes published on the figures topic", registry=registry)
        self.figures = Gauge("qw_indicators_figures", "Evaluated figures by status (periodic pass)",
                             ["status"], registry=registry)
        self.revisions_ignored = Counter("qw_indicators_revisions_ignored_total",
                                         "Events ignored: a revision not above the current one, or a later "
                                         "sample.collected / an earlier figure.reported for the same subject",
                                         registry=registry)
        self.duplicates = Counter("qw_indicators_duplicates_total", "Events already applied (skipped)",
                                  registry=registry)
        self.batch_failures = Counter("qw_indicators_batch_failures_total",
                                      "Consumed batches that failed (database or broker unavailable) and were "
                                      "rewound to be retried", registry=registry)
        self.commit_failures = Counter("qw_indicators_offset_commit_failures_total",
                                       "Offset commits that failed after their batch was applied (the batch is "
                                       "re-read by the partition's next owner and skipped as applied)",
                                       registry=registry)
        for event_type in EVENT_TYPES:
            self.events_applied.labels(event_type)
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason)
        for status in STATUSES:
            self.figures.labels(status)
