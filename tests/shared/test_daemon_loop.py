"""The background-loop thread plumbing shared by PeriodicTask and BatchConsumer."""

from __future__ import annotations

import threading

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
