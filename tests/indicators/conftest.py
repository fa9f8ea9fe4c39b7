"""Fixtures for indicator tests: a migrated database, a processor and a reader on it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from services.indicators.decode import Rejected
from services.indicators.metrics import IndicatorsMetrics
from services.indicators.processor import BatchProcessor
from services.indicators.reader import FigureReader
from shared.catalogue import Catalogue, load_catalogue
from shared.db import make_engine, make_sessionmaker, migrate
from shared.settings import DEFAULT_CATALOGUE
from tests.indicators import factory
from tests.support import FixedClock

# Group joins, syncs and membership losses in a failing consumer test's captured log.
logging.getLogger("kafka.coordinator").setLevel(logging.INFO)


class ListSink:
    """Dead letters kept in a list (the processor's unit tests need no broker)."""

    def __init__(self) -> None:
        self.sent: list[Rejected] = []

    def send(self, rejected) -> None:  # noqa: ANN001
        self.sent.extend(rejected)


@dataclass
class Harness:
    catalogue: Catalogue
    sessions: sessionmaker[Session]
    clock: FixedClock
    registry: CollectorRegistry
    metrics: IndicatorsMetrics
    sink: ListSink
    processor: BatchProcessor
    reader: FigureReader

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def catalogue() -> Catalogue:
    return load_catalogue(DEFAULT_CATALOGUE)


@pytest.fixture
def harness(db_url: str, catalogue: Catalogue) -> Iterator[Harness]:
    migrate(db_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    clock = FixedClock(factory.NOW)
    registry = CollectorRegistry()
    metrics = IndicatorsMetrics(registry)
    sink = ListSink()
    yield Harness(catalogue, sessions, clock, registry, metrics, sink,
                  BatchProcessor(catalogue, sessions, sink, metrics, clock), FigureReader(catalogue, sessions, clock))
    engine.dispose()
