"""Drill: intake restarts (gracefully, then killed) under load; the lab's retries lose nothing."""

from __future__ import annotations

import pytest

from tests.drills.conftest import LoadFactory
from tests.drills.support import assert_lab_accounting, wait_for

pytestmark = [pytest.mark.drill, pytest.mark.integration, pytest.mark.e2e]


def test_intake_restarted_and_killed_under_load_loses_nothing_and_counts_nothing_twice(
        start_load: LoadFactory) -> None:
    load = start_load("itk", 4000, senders=3)
    stack, lab, feeder = load.stack, load.lab, load.feeder

    load.wait_first_batches()
    stack.stop("intake")  # SIGTERM: uvicorn finishes requests in flight
    stack.start("intake")
    done = feeder.done_batches
    wait_for(lambda: feeder.done_batches >= done + 5, timeout=30, what="batches accepted by the new intake")
    stack.stop("intake", kill=True)  # SIGKILL: requests in flight lose their answer
    stack.start("intake")
    feeder.join(timeout=120)

    interrupted = sum(n for outcome, n in lab.statuses.items() if outcome != "202")
    assert interrupted > 0, f"the restarts interrupted no request: {lab.statuses}"
    assert_lab_accounting(lab, load.events, exact=False)
    load.assert_ends_exact()
