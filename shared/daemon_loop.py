"""The thread plumbing of the services' background loops: start, stop, alive."""

from __future__ import annotations

import threading


class DaemonLoop:
    """Runs ``run()`` in a daemon thread named ``name``; ``stop()`` sets ``_stop`` and joins the thread.

    A subclass writes ``run()`` and returns from it once ``_stop`` is set; ``stop_timeout`` is how long
    ``stop()`` waits for that by default.
    """

    stop_timeout: float = 10.0

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()  # a loop stopped before may be started again
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the loop to end after its current step, without waiting (stop several loops at once)."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        self.signal_stop()
        if self._thread is not None:
            self._thread.join(self.stop_timeout if timeout is None else timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        raise NotImplementedError
