"""Metrics owned by the alert service (names are fixed: dashboards and rules use them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.alerts.evaluate import SEVERITIES

OUTCOMES = ("delivered", "failed", "retrying", "gave_up", "silenced")
CHANNELS = ("webhook", "dingtalk", "wecom", "email", "alertmanager")


class AlertsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "qw_alerts_notifications_total",
            "Webhook notifications by outcome (per attempt; silenced per muted delivery)",
            ["outcome"], registry=registry)
        self.delivery_seconds = Histogram(
            "qw_alerts_delivery_seconds", "Latency of one webhook POST attempt", registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.channel_notifications = Counter(
            "qw_alerts_channel_notifications_total",
            "Notification attempts by channel (webhook, dingtalk, wecom, email, alertmanager) and outcome",
            ["channel", "outcome"], registry=registry)
        self.pending_deliveries = Gauge(
            "qw_alerts_pending_deliveries", "Deliveries waiting for a (re)try", registry=registry)
        self.firing = Gauge("qw_alerts_firing", "Firing alerts by severity", ["severity"], registry=registry)
        self.consumer_lag = Gauge(
            "qw_alerts_consumer_lag", "Figures not yet consumed (end offset - position)",
            ["topic", "partition"], registry=registry)
        self.undecodable = Counter(
            "qw_alerts_undecodable_figures_total",
            "Messages on the figures topic that did not decode (skipped; the periodic republish carries the state)",
            registry=registry)
        for outcome in OUTCOMES:
            self.notifications.labels(outcome)
            for channel in CHANNELS:
                self.channel_notifications.labels(channel, outcome)
        for severity in SEVERITIES:
            self.firing.labels(severity).set(0)

    def notification(self, outcome: str, count: int = 1, *, channel: str | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.notifications.labels(outcome).inc(count)
        if channel is not None:
            self.channel_notifications.labels(channel if channel in CHANNELS else "webhook", outcome).inc(count)
