"""A task called every few seconds from a daemon thread of its own, until stopped."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.daemon_loop import DaemonLoop

logger = logging.getLogger(__name__)


class PeriodicTask(DaemonLoop):
    """Calls ``task`` every ``interval`` seconds in a daemon thread named ``name`` (``first_at_start``:
    once at start too). A failure is logged as ``failure`` and the next interval tries again."""

    def __init__(self, task: Callable[[], object], interval: float, *, name: str, failure: str,
                 first_at_start: bool = False) -> None:
        super().__init__(name)
        self.task = task
        self.interval = interval
        self.failure = failure
        self.first_at_start = first_at_start

    def run(self) -> None:
        if self.first_at_start:
            self._call()
        while not self._stop.wait(self.interval):
            self._call()

    def _call(self) -> None:
        try:
            self.task()
        except Exception:  # noqa: BLE001 - try again next interval
            logger.exception(self.failure)
