"""The three services in process over one migrated SQLite file, no broker: for tests of what every API answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.alerts.app import create_app as alerts_app
from services.alerts.evaluate import Rule
from services.alerts.rules import RuleBook
from services.indicators.app import create_app as indicators_app
from services.intake.app import create_app as intake_app
from shared.db import migrate
from shared.settings import Settings
from tests.intake.support import FakePublisher
from tests.support import FixedClock

ADMIN_TOKEN = "api-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# An instant with microseconds, so an answer that leaks them is seen.
NOW = dt.datetime(2026, 12, 2, 6, 19, 48, 405114, tzinfo=dt.UTC)


@dataclass
class Services:
    clock: FixedClock
    apps: dict[str, FastAPI]
    clients: dict[str, TestClient]

    def client(self, name: str) -> TestClient:
        return self.clients[name]


@contextmanager
def running_services(folder: Path) -> Iterator[Services]:
    """The three apps with their lifespans entered (keys, authenticator), closed at the end."""
    services = build_services(folder)
    with ExitStack() as stack:
        for name, app in services.apps.items():
            services.clients[name] = stack.enter_context(TestClient(app))
        yield services


def build_services(folder: Path) -> Services:
    url = f"sqlite:///{folder}/qw.db"
    migrate(url)
    settings = Settings(data_dir=folder, database_url=url, admin_token=ADMIN_TOKEN, kafka_bootstrap="127.0.0.1:1",
                        allow_private_webhooks=False)
    clock = FixedClock(NOW)
    apps = {
        "intake": intake_app(settings, clock=clock, registry=CollectorRegistry(), publisher=FakePublisher()),
        "indicators": indicators_app(settings, clock=clock, registry=CollectorRegistry(), background=False),
        "alerts": alerts_app(settings, clock=clock, registry=CollectorRegistry(), run_background=False,
                             rules=RuleBook(Rule()), http_client=httpx.Client(trust_env=False),
                             resolver=lambda host, port: ["93.184.216.34"]),
    }
    return Services(clock, apps, {})
