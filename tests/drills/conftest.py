"""Fixtures for fault drills: a stack with fast timings, a webhook receiver, infrastructure restored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.launcher import ServiceProcesses
from devtools.localinfra import LocalKafka, LocalPostgres
from tests.drills.support import FAST_ENV, SECRET, Chain, Feeder, FigureWatch, Load, batches, inspections
from tests.support import WebhookReceiver

StackFactory = Callable[..., ServiceProcesses]
LoadFactory = Callable[..., Load]


@pytest.fixture
def infra_guard(kafka_broker: LocalKafka, postgres_server: LocalPostgres) -> Iterator[None]:
    """The broker and PostgreSQL are shared by the session: whatever a drill did, they run afterwards.

    (Drills restore them in try/finally themselves; this is the safety net, torn down before pg_url
    drops the test's database.)"""
    yield
    for server in (kafka_broker, postgres_server):
        if not server.running():
            server.start()


@pytest.fixture
def make_stack(kafka_broker: LocalKafka, pg_url: str, kafka_topic_prefix: str, tmp_path: Path,
               infra_guard: None) -> Iterator[StackFactory]:
    """``make_stack(**env)``: the three services, not started, with FAST_ENV plus ``env``; all stopped at the end."""
    made: list[ServiceProcesses] = []

    def factory(data_dir: Path | None = None, **env: str) -> ServiceProcesses:
        folder = data_dir or tmp_path / f"stack{len(made)}"
        folder.mkdir(parents=True, exist_ok=True)
        stack = ServiceProcesses(bootstrap=kafka_broker.bootstrap, database_url=pg_url,
                                 topic_prefix=kafka_topic_prefix, data_dir=folder, extra_env={**FAST_ENV, **env})
        made.append(stack)
        return stack

    try:
        yield factory
    finally:
        for stack in reversed(made):
            stack.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver(secret=SECRET).start()
    yield hooks
    hooks.stop()


@pytest.fixture
def start_load(make_stack: StackFactory, receiver: WebhookReceiver) -> LoadFactory:
    """``start_load(prefix, count, senders=, pause=)``: a fresh stack's chain, started, under a lab that
    feeds ``count`` inspections in batches of 100 from a ``Feeder``, with a ``FigureWatch`` running."""

    def factory(prefix: str, count: int, *, senders: int = 1, pause: float = 0.0) -> Load:
        stack = make_stack()
        chain = Chain.start(stack, receiver.url())
        events = inspections(prefix, count)
        lab = chain.lab()
        watch = FigureWatch(chain).start()
        feeder = Feeder(lab, batches(events, 100), senders=senders, pause=pause).start()
        return Load(stack, chain, events, lab, watch, feeder, receiver)

    return factory
