"""Figures handed to the publish worker go out from its own thread; the consumer never waits for them."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import pytest

from services.indicators.apply import Touched
from services.indicators.publish_worker import PublishWorker

AGRI = "agri_sampling_pass_rate"
PROVINCE: Touched = (AGRI, "320000", None)
SUZHOU: Touched = (AGRI, "320500", None)


class BlockingPublisher:
    """Records each call; the first call waits until ``release`` is set."""

    def __init__(self, fail_first: bool = False) -> None:
        self.calls: list[dict[Touched, list[str]]] = []
        self.threads: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_first = fail_first

    def on_batch(self, touched: Mapping[Touched, list[str]]) -> int:
        self.calls.append({k: list(v) for k, v in touched.items()})
        self.threads.append(threading.current_thread().name)
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(10)
            if self.fail_first:
                raise RuntimeError("broker unavailable")
        return len(touched)


def hand_over(worker: PublishWorker, touched: Mapping[Touched, list[str]]) -> None:
    """What the consumer does after a batch: keep the figures and ask for them to go out."""
    worker.add(touched)
    worker.publish()


@pytest.fixture
def publisher() -> BlockingPublisher:
    return BlockingPublisher()


def test_handing_over_returns_while_a_publish_is_still_waiting_for_the_broker(publisher: BlockingPublisher) -> None:
    worker = PublishWorker(publisher)
    worker.start()
    try:
        hand_over(worker, {PROVINCE: ["e1"]})
        assert publisher.entered.wait(10)
        hand_over(worker, {SUZHOU: ["e2"]})  # returns although the first publish is blocked
        hand_over(worker, {PROVINCE: ["e3"], SUZHOU: ["e4"]})
        assert len(publisher.calls) == 1
        publisher.release.set()
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    # What arrived during the blocked publish went out together, merged, from the worker's thread.
    assert publisher.calls == [{PROVINCE: ["e1"]}, {SUZHOU: ["e2", "e4"], PROVINCE: ["e3"]}]
    assert set(publisher.threads) == {"indicators-publish"}


def test_figures_added_during_a_publish_wait_for_the_next_request(publisher: BlockingPublisher) -> None:
    worker = PublishWorker(publisher)
    worker.start()
    try:
        worker.add({PROVINCE: ["e1"]})
        worker.publish()
        assert publisher.entered.wait(10)
        worker.add({SUZHOU: ["e2"]})  # kept, not asked for: the consumer's throttle decides when
        publisher.release.set()
        time.sleep(0.3)
        assert publisher.calls == [{PROVINCE: ["e1"]}]
        worker.publish()
        assert worker.wait_idle(10)
        assert publisher.calls == [{PROVINCE: ["e1"]}, {SUZHOU: ["e2"]}]
    finally:
        worker.stop()


def test_a_failed_publish_is_logged_and_the_next_figures_still_go_out(caplog: pytest.LogCaptureFixture) -> None:
    publisher = BlockingPublisher(fail_first=True)
    worker = PublishWorker(publisher)
    worker.start()
    try:
        hand_over(worker, {PROVINCE: ["e1"]})
        assert publisher.entered.wait(10)
        publisher.release.set()
        hand_over(worker, {SUZHOU: ["e2"]})
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    assert publisher.calls[-1] == {SUZHOU: ["e2"]}
    assert "figure publish failed" in caplog.text
    assert not worker.alive


def test_stopping_publishes_what_is_pending_first(publisher: BlockingPublisher) -> None:
    worker = PublishWorker(publisher)
    worker.start()
    hand_over(worker, {PROVINCE: ["e1"]})
    assert publisher.entered.wait(10)
    hand_over(worker, {SUZHOU: ["e2"]})
    publisher.release.set()
    worker.stop()
    assert publisher.calls == [{PROVINCE: ["e1"]}, {SUZHOU: ["e2"]}]
    assert not worker.alive


def test_a_figure_keeps_at_most_five_event_ids(publisher: BlockingPublisher) -> None:
    publisher.release.set()
    worker = PublishWorker(publisher)
    hand_over(worker, {PROVINCE: ["e1", "e2", "e3"]})
    hand_over(worker, {PROVINCE: ["e2", "e4", "e5", "e6", "e7"]})  # handed over before the thread starts
    worker.start()
    assert worker.wait_idle(10)
    worker.stop()
    assert publisher.calls == [{PROVINCE: ["e1", "e2", "e3", "e4", "e5"]}]


def test_figures_handed_over_when_no_thread_runs_are_published_in_the_callers_thread(
        publisher: BlockingPublisher) -> None:
    publisher.release.set()
    never_started = PublishWorker(publisher)
    hand_over(never_started, {PROVINCE: ["e1"]})
    never_started.stop()
    stopped = PublishWorker(publisher)
    stopped.start()
    stopped.stop()
    hand_over(stopped, {SUZHOU: ["e2"]})  # e.g. a consumer whose stop timed out, finishing its last batch
    assert publisher.calls == [{PROVINCE: ["e1"]}, {SUZHOU: ["e2"]}]
    assert publisher.threads == [threading.current_thread().name] * 2
