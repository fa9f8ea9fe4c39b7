"""The background-loop thread plumbing shared by PeriodicTask and BatchConsumer."""

from __future__ import annotations

import threading
import time

import pytest

from shared.periodic import PeriodicTask


def test_periodic_task_runs_in_its_named_thread_until_stopped() -> None:
    called = threading.Event()
    names: list[str] = []

    def task() -> None:
        names.append(threading.current_thread().name)
        called.set()

    periodic = PeriodicTask(task, 3600, name="qw-test-periodic", failure="test task failed", first_at_start=True)
    periodic.start()
    assert called.wait(5)
    assert periodic.alive
    periodic.stop(timeout=5)
    assert not periodic.alive
    assert names == ["qw-test-periodic"]


def test_stopping_a_loop_that_never_started_does_nothing() -> None:
    periodic = PeriodicTask(lambda: None, 3600, name="qw-test-idle", failure="unused")
    periodic.stop()
    assert not periodic.alive


def test_a_stopped_loop_started_again_runs_again() -> None:
    calls: list[int] = []
    ran = threading.Event()

    def task() -> None:
        calls.append(1)
        ran.set()

    periodic = PeriodicTask(task, 3600, name="qw-test-restart", failure="test task failed", first_at_start=True)
    periodic.start()
    assert ran.wait(5)
    periodic.stop(timeout=5)
    ran.clear()
    periodic.start()  # a second lifespan of the same app
    assert ran.wait(5) and periodic.alive
    periodic.stop(timeout=5)
    assert len(calls) == 2


def test_signalled_loops_end_together_and_a_failing_task_is_logged_as_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> None:
        raise RuntimeError("receiver down")

    loops = [PeriodicTask(fail, 0.05, name=f"qw-test-{n}", failure="delivery run failed") for n in range(2)]
    for loop in loops:
        loop.start()
    time.sleep(0.2)
    for loop in loops:
        loop.signal_stop()
    for loop in loops:
        loop.stop(timeout=5)
    assert not any(loop.alive for loop in loops)
    failures = [r for r in caplog.records if r.getMessage() == "delivery run failed"]
    assert failures and all(r.levelname == "ERROR" and r.exc_info for r in failures)
