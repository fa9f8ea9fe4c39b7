"""Drill: the Kafka broker stops mid-ingest and comes back; nothing is lost or counted twice."""

from __future__ import annotations

import time

import pytest

from devtools.localinfra import LocalKafka
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


def test_a_broker_outage_mid_ingest_loses_nothing_and_counts_nothing_twice(
        make_stack: StackFactory, kafka_broker: LocalKafka, receiver: WebhookReceiver) -> None:
    stack = make_stack()
    chain = Chain.start(stack, receiver.url())
    events = inspections("brk", 3000)
    lab = chain.lab()
    watch = FigureWatch(chain).start()
    feeder = Feeder(lab, batches(events, 100), pause=0.05).start()
    try:
        wait_for(lambda: feeder.done_batches >= 5, timeout=30, what="the first batches to be accepted")
        kafka_broker.stop()
        refused = lab.statuses["503"]
        time.sleep(3)  # the outage: the lab keeps posting and is told to retry
        assert lab.statuses["503"] > refused, f"intake did not answer 503 while the broker was down: {lab.statuses}"
    finally:
        kafka_broker.start()
    feeder.join(timeout=120)
    assert feeder.done_batches == 30

    assert_lab_accounting(lab, events)
    assert_ends_exact(chain, stack, events, watch=watch, receiver=receiver)
    assert all(p.poll() is None for p in stack.processes.values()), "a service died during the outage"
