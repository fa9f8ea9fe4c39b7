"""Intake metrics (names are fixed: dashboards and alert rules use them)."""

from __future__ import annotations

from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.events import EVENT_TYPES

RejectReason = Literal["invalid", "conflict", "forbidden", "too_large", "bad_json", "unsupported_media_type",
                       "unavailable", "not_owner"]
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)


class IntakeMetrics:
    """Counts per event (not per request) where the events are known; per request otherwise."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted = Counter("qw_intake_events_accepted_total", "Events accepted and published (new ones)",
                                ["type"], registry=registry)
        self.rejected = Counter("qw_intake_events_rejected_total",
                                "Events rejected (per event when the body parsed, else per request)",
                                ["reason"], registry=registry)
        self.duplicates = Counter("qw_intake_duplicates_total", "Re-sent events with the same content",
                                  registry=registry)
        self.conflicts = Counter("qw_intake_conflicts_total", "Re-used event ids with different content",
                                 registry=registry)
        self.publish_seconds = Histogram("qw_intake_publish_seconds",
                                         "Time to publish a request's events and get every ack",
                                         registry=registry,
                                         buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.batch_size = Histogram("qw_intake_batch_size", "Events per request", registry=registry,
                                    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000))
        self.publish_failures = Counter("qw_intake_publish_failures_total",
                                        "Requests whose events could not be durably published", registry=registry)
        # The children of the labelled counters, made once (``labels()`` costs more than ``inc()``); making them
        # also exposes every series at 0 from the start.
        self._accepted = {event_type: self.accepted.labels(event_type) for event_type in EVENT_TYPES}
        self._rejected = {reason: self.rejected.labels(reason) for reason in REJECT_REASONS}

    def accept(self, event_type: str, count: int = 1) -> None:
        self._accepted[event_type].inc(count)  # a validated event's type is one of EVENT_TYPES

    def reject(self, reason: RejectReason, count: int = 1) -> None:
        self._rejected[reason].inc(max(count, 1))
