"""Wait for a condition with a deadline, the one way tests, benchmarks and the dev runner wait."""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


class WaitTimeout(AssertionError):
    """The condition did not hold in time; an AssertionError so that a test waiting on it fails."""


def wait_for(probe: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.1,
             what: str = "condition") -> T:
    """Call probe until it returns something truthy and return that; raise WaitTimeout after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            _log_thread_stacks(what)
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


def _log_thread_stacks(what: str) -> None:
    """Log where every thread of this process is at the moment a wait failed: a consumer stuck in a
    database wait or in kafka-python shows up here, in the failing test's captured log."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    stacks = [f"--- thread {names.get(ident, ident)}\n{''.join(traceback.format_stack(frame, limit=12))}"
              for ident, frame in sys._current_frames().items() if ident != threading.get_ident()]
    logger.warning("wait for %s failed; thread stacks:\n%s", what, "\n".join(stacks))
