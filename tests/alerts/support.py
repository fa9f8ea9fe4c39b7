"""Test support for the alert service: figures, and a harness that drives evaluation and delivery by hand
with a FixedClock (no real-time waiting). ``Receiver`` is the collecting webhook receiver of tests.support."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from services.alerts.app import AlertsRuntime, build_runtime
from services.alerts.evaluate import Rule
from services.alerts.models import Delivery, Subscription
from services.alerts.rules import RuleBook
from services.alerts.service import PassResult
from services.alerts.urlpolicy import Resolver, system_resolver
from shared.catalogue import Target
from shared.db import migrate
from shared.figures import Figure, FigureChanged
from shared.settings import Settings
from tests.support import FixedClock
from tests.support import WebhookReceiver as Receiver  # noqa: F401 - the alert tests import it from here

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
SECRET = "s3cret-signing-key-0001"

TARGETS = {"agri_sampling_pass_rate": Target(op=">=", value=0.97),
           "national_spot_check_pass_rate": Target(op=">=", value=0.90),
           "new_national_standards": Target(op=">=", value=600)}
VALUES = {"ok": (985, 1000, 0.985, (0.9755, 0.9907)), "at_risk": (965, 1000, 0.965, (0.9521, 0.9746)),
          "breach": (951, 1000, 0.951, (0.9358, 0.9627)), "insufficient_data": (9, 10, 0.9, (0.596, 0.982)),
          "behind": (200, None, 200.0, None), "on_track": (500, None, 500.0, None),
          "missed": (400, None, 400.0, None), "achieved": (600, None, 600.0, None)}


def figure(status: str, *, indicator: str = "agri_sampling_pass_rate", region: str = "320500",
           category: str | None = None, window: str = "30d", as_of: dt.datetime = T0) -> Figure:
    numerator, denominator, value, ci = VALUES[status]
    return Figure(indicator=indicator, region=region, category=category, window=window, as_of=as_of,
                  numerator=numerator, denominator=denominator, value=value, ci95=ci,
                  target=TARGETS.get(indicator, Target(op=">=", value=0.97)), status=status,  # type: ignore[arg-type]
                  last_event_at=as_of)


# ---- the harness ----------------------------------------------------------------------------------------
class Harness:
    """The alert service's components over a real database, time moved by hand."""

    def __init__(self, db_url: str, data_dir: Path, *, rule: Rule | None = None, resolver: Resolver = system_resolver,
                 **overrides: Any) -> None:
        migrate(db_url)
        options: dict[str, Any] = {"database_url": db_url, "data_dir": data_dir, "allow_private_webhooks": True,
                                   "admin_token": "admin-token", "retry_initial_seconds": 5.0,
                                   "retry_max_seconds": 3600.0, "alert_resolve_for_seconds": 0.0,
                                   "dashboard_origins": ""}
        options.update(overrides)
        self.settings = Settings(**options)
        self.clock = FixedClock(T0)
        self.registry = CollectorRegistry()
        self.rule = rule or Rule(for_seconds=0, resolve_for_seconds=0, repeat_interval_seconds=24 * 3600)
        self.rt: AlertsRuntime = build_runtime(
            self.settings, clock=self.clock, registry=self.registry, rules=RuleBook(self.rule),
            http_client=httpx.Client(trust_env=False, timeout=5.0), jitter=lambda cap: cap, resolver=resolver)
        self._seq = 0

    def close(self) -> None:
        self.rt.worker.close()
        self.rt.engine.dispose()

    # time and input
    def advance(self, seconds: float) -> None:
        self.clock.advance(dt.timedelta(seconds=seconds))

    def message(self, fig: Figure) -> FigureChanged:
        self._seq += 1
        return FigureChanged(figure=fig, changed_at=self.clock.now() + dt.timedelta(microseconds=self._seq),
                             event_ids=(f"ev-{self._seq}",))

    def apply(self, *figs: Figure | FigureChanged) -> PassResult:
        messages = [f if isinstance(f, FigureChanged) else self.message(f) for f in figs]
        return self.rt.service.handle_figures(messages, self.clock.now())

    def periodic(self) -> PassResult:
        return self.rt.service.run_periodic(self.clock.now())

    def deliver(self) -> int:
        return self.rt.worker.run_once(self.clock.now())

    # setup and inspection
    def subscribe(self, agency_id: str, url: str, *, secret: str = SECRET, min_severity: str = "warning",
                  channel: str = "webhook", locale: str = "zh-CN", **options: Any) -> str:
        subscription_id = str(uuid.uuid4())
        self.rt.service.subscribe(Subscription(subscription_id=subscription_id, agency_id=agency_id, url=url,
                                               secret=secret, min_severity=min_severity, channel=channel,
                                               locale=locale, options=json.dumps(options),
                                               created_at=self.clock.now()),
                                  self.clock.now())
        return subscription_id

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        with self.rt.sessions() as session:
            query = select(Delivery).order_by(Delivery.created_at, Delivery.delivery_id)
            if status:
                query = query.where(Delivery.status == status)
            return list(session.scalars(query))

    def counter(self, outcome: str) -> float:
        return self.registry.get_sample_value("qw_alerts_notifications_total", {"outcome": outcome}) or 0.0
