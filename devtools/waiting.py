"""Wait for a condition with a deadline, the one way tests, benchmarks and the dev runner wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


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
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)
