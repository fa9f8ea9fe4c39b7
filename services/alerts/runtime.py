"""What the alert service runs on, built by ``app.build_runtime``: its own module so that the routers'
dependencies (deps.py) can name it without importing the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.alerts.deliver import DeliveryWorker
from services.alerts.metrics import AlertsMetrics
from services.alerts.service import AlertService
from services.alerts.urlpolicy import Resolver
from shared.batch_consumer import BatchConsumer
from shared.catalogue import Catalogue
from shared.clock import Clock
from shared.settings import Settings


@dataclass
class AlertsRuntime:
    settings: Settings
    catalogue: Catalogue
    engine: Engine
    sessions: sessionmaker[Session]
    service: AlertService
    worker: DeliveryWorker
    consumer: BatchConsumer[object]
    metrics: AlertsMetrics
    clock: Clock
    resolver: Resolver
