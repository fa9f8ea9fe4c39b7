"""A task called every few seconds from a daemon thread of its own, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class PeriodicTask:
    """Calls ``task`` every ``interval`` seconds in a daemon thread named ``name`` (``first_at_start``:
    once at start too). A failure is logged as ``failure`` and the next interval tries again."""

    def __init__(self, task: Callable[[], object], interval: float, *, name: str, failure: str,
                 first_at_start: bool = False) -> None:
        self.task = task
        self.interval = interval
        self.name = name
        self.failure = failure
        self.first_at_start = first_at_start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        if self.first_at_start:
            self._call()
        while not self._stop.wait(self.interval):
            self._call()

    def _call(self) -> None:
        try:
            self.task()
        except Exception:  # noqa: BLE001 - try again next interval
            logger.warning(self.failure, exc_info=True)
