"""Figure publishing off the consumer's thread.

``FigurePublisher.on_batch`` recomputes the touched figures and waits for the broker to acknowledge
every change before it records them as published. ``PublishWorker`` keeps the figures the consumer
adds (the one place where touched figures are merged: one entry per figure, up to five event ids) and
publishes them from a thread of its own when asked, one publish at a time, so consumption never waits
for the broker and a slow broker costs bounded memory. ``stop`` publishes what is still pending before
it returns; figures handed over when no thread runs (before ``start``, after the thread ended) are
published in the caller's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Protocol

from services.indicators.apply import Touched, note_event_ids

logger = logging.getLogger(__name__)


class BatchPublisher(Protocol):
    def on_batch(self, touched: Mapping[Touched, list[str]]) -> int: ...


class PublishWorker:
    """Publishes handed-over figure changes through ``publisher`` from its own thread."""

    def __init__(self, publisher: BatchPublisher) -> None:
        self.publisher = publisher
        self._pending: dict[Touched, list[str]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._running = False  # the thread takes what is pending (set and cleared under the lock)

    def start(self) -> None:
        with self._lock:
            self._running = True
            if self._pending:
                self._wake.set()
        self._thread = threading.Thread(target=self._run, name="indicators-publish", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Publish what is pending, then end the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._publish_here()  # pending without a thread to take it (never started)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add(self, touched: Mapping[Touched, list[str]]) -> None:
        """Keep figures for the next publish, up to five event ids per figure (the first seen)."""
        if not touched:
            return
        with self._lock:
            for figure, ids in touched.items():
                note_event_ids(self._pending, figure, ids)
            self._idle.clear()

    def publish(self) -> None:
        """Ask for what is kept to go out; returns at once."""
        with self._lock:
            running = self._running
        if running:
            self._wake.set()
        elif self._stopping.is_set():  # the thread has ended: publish here rather than strand them
            self._publish_here()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything handed over has been published (or failed and logged)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                touched, self._pending = self._pending, {}
            self._publish(touched)
            with self._lock:
                if not self._pending:
                    self._idle.set()
                    if self._stopping.is_set():
                        self._running = False
                        return
                elif self._stopping.is_set():  # figures added meanwhile go out before the thread ends
                    self._wake.set()
                # Otherwise what was added during the publish waits for the consumer's next ``publish()``.

    def _publish_here(self) -> None:
        with self._lock:
            if self._running:
                return
            touched, self._pending = self._pending, {}
        self._publish(touched)
        with self._lock:
            if not self._pending:
                self._idle.set()

    def _publish(self, touched: dict[Touched, list[str]]) -> None:
        if not touched:
            return
        try:
            self.publisher.on_batch(touched)
        except Exception:  # noqa: BLE001 - the periodic pass republishes what this missed
            logger.warning("figure publish failed; the periodic pass will retry", exc_info=True)
