"""What the local Kafka and PostgreSQL runners share: start on entering a with-block, stop on leaving it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class LocalServer(ABC):
    """A local server process with ``start()`` and ``stop()``; ``with server:`` runs it for the block."""

    @abstractmethod
    def start(self) -> None:
        """Start the server, or reuse the one already running from the same folder."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server; a server that is not running is left as it is."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
