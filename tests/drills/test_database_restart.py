"""Drill: PostgreSQL restarts while events flow; the services recover by themselves, counts stay exact."""

from __future__ import annotations

import pytest

from devtools.localinfra import LocalPostgres
from tests.drills.conftest import StackFactory
from tests.drills.support import (
    Chain,
    Feeder,
    FigureWatch,
    assert_ends_exact,
    assert_lab_accounting,
    batches,
    inspections,
    wait_for,
)
from tests.support import WebhookReceiver

pytestmark = [pytest.mark.drill, pytest.mark.integration, pytest.mark.e2e]


def test_a_database_restart_mid_ingest_needs_no_service_restart_and_counts_exactly(
        make_stack: StackFactory, postgres_server: LocalPostgres, receiver: WebhookReceiver) -> None:
    stack = make_stack()
    chain = Chain.start(stack, receiver.url())
    pids = {name: process.pid for name, process in stack.processes.items()}
    events = inspections("pgr", 3000)
    lab = chain.lab()
    watch = FigureWatch(chain).start()
    feeder = Feeder(lab, batches(events, 100), pause=0.05).start()
    try:
        wait_for(lambda: feeder.done_batches >= 5, timeout=30, what="the first batches to be accepted")
        postgres_server.restart()  # fast shutdown: every open connection is cut
    finally:
        if not postgres_server.running():
            postgres_server.start()
    feeder.join(timeout=120)

    assert_lab_accounting(lab, events)
    assert "500" not in lab.statuses, f"a database outage is a 503 with Retry-After, not a 500: {lab.statuses}"
    assert_ends_exact(chain, stack, events, watch=watch, receiver=receiver)
    assert {name: p.pid for name, p in stack.processes.items() if p.poll() is None} == pids, "a service had to restart"
    for name in pids:
        with stack.client(name) as client:
            assert client.get("/readyz").status_code == 200
