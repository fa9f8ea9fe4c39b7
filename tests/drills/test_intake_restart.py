"""Drill: intake restarts (gracefully, then killed) under load; the lab's retries lose nothing."""

from __future__ import annotations

import pytest

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


def test_intake_restarted_and_killed_under_load_loses_nothing_and_counts_nothing_twice(
        make_stack: StackFactory, receiver: WebhookReceiver) -> None:
    stack = make_stack()
    chain = Chain.start(stack, receiver.url())
    events = inspections("itk", 4000)
    lab = chain.lab()
    watch = FigureWatch(chain).start()
    feeder = Feeder(lab, batches(events, 100), senders=3).start()

    wait_for(lambda: feeder.done_batches >= 5, timeout=30, what="the first batches to be accepted")
    stack.stop("intake")  # SIGTERM: uvicorn finishes requests in flight
    stack.start("intake")
    done = feeder.done_batches
    wait_for(lambda: feeder.done_batches >= done + 5, timeout=30, what="batches accepted by the new intake")
    stack.stop("intake", kill=True)  # SIGKILL: requests in flight lose their answer
    stack.start("intake")
    feeder.join(timeout=120)

    interrupted = sum(n for outcome, n in lab.statuses.items() if outcome != "202")
    assert interrupted > 0, f"the restarts interrupted no request: {lab.statuses}"
    assert_lab_accounting(lab, events, exact=False)
    assert_ends_exact(chain, stack, events, watch=watch, receiver=receiver)
