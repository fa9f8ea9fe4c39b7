"""Drill: the Kafka broker stops mid-ingest and comes back; nothing is lost or counted twice."""

from __future__ import annotations

import time

import pytest

from devtools.localinfra import LocalKafka
from tests.drills.conftest import LoadFactory
from tests.drills.support import assert_lab_accounting

pytestmark = [pytest.mark.drill, pytest.mark.integration, pytest.mark.e2e]


def test_a_broker_outage_mid_ingest_loses_nothing_and_counts_nothing_twice(
        start_load: LoadFactory, kafka_broker: LocalKafka) -> None:
    load = start_load("brk", 3000, pause=0.05)
    lab, feeder = load.lab, load.feeder
    try:
        load.wait_first_batches()
        kafka_broker.stop()
        refused = lab.statuses["503"]
        time.sleep(3)  # the outage: the lab keeps posting and is told to retry
        assert lab.statuses["503"] > refused, f"intake did not answer 503 while the broker was down: {lab.statuses}"
    finally:
        kafka_broker.start()
    feeder.join(timeout=120)
    assert feeder.done_batches == 30

    assert_lab_accounting(lab, load.events)
    load.assert_ends_exact()
    assert all(p.poll() is None for p in load.stack.processes.values()), "a service died during the outage"
