"""Drill: PostgreSQL restarts while events flow; the services recover by themselves, counts stay exact."""

from __future__ import annotations

import pytest

from devtools.localinfra import LocalPostgres
from tests.drills.conftest import LoadFactory
from tests.drills.support import assert_lab_accounting

pytestmark = [pytest.mark.drill, pytest.mark.integration, pytest.mark.e2e]


def test_a_database_restart_mid_ingest_needs_no_service_restart_and_counts_exactly(
        start_load: LoadFactory, postgres_server: LocalPostgres) -> None:
    load = start_load("pgr", 3000, pause=0.05)
    stack, lab = load.stack, load.lab
    pids = {name: process.pid for name, process in stack.processes.items()}
    try:
        load.wait_first_batches()
        postgres_server.restart()  # fast shutdown: every open connection is cut
    finally:
        if not postgres_server.running():
            postgres_server.start()
    load.feeder.join(timeout=120)

    assert_lab_accounting(lab, load.events)
    assert "500" not in lab.statuses, f"a database outage is a 503 with Retry-After, not a 500: {lab.statuses}"
    load.assert_ends_exact()
    assert {name: p.pid for name, p in stack.processes.items() if p.poll() is None} == pids, "a service had to restart"
    for name in pids:
        with stack.client(name) as client:
            assert client.get("/readyz").status_code == 200
