"""Log files of the processes we start: bounded by size rotation, and their last lines for error messages."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import BinaryIO


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for an error message; "(no log)" when there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class RotatingFile:
    """Appends to path; past max_bytes it becomes path.1 (path.1 becomes path.2, …), keeping `backups` old files."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        if max_bytes <= 0 or backups < 1:
            raise ValueError("max_bytes must be positive and backups at least 1")
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._file: BinaryIO = path.open("ab")

    def write(self, data: bytes) -> None:
        if self._file.tell() + len(data) > self.max_bytes and self._file.tell() > 0:
            self._rotate()
        self._file.write(data)
        self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("ab")

    def close(self) -> None:
        self._file.close()


class LogPump:
    """A thread that copies a child's output, line by line, into a RotatingFile until the child closes it."""

    def __init__(self, stream: BinaryIO, path: Path, *, max_bytes: int, backups: int) -> None:
        self._stream = stream
        self._file = RotatingFile(path, max_bytes=max_bytes, backups=backups)
        self._thread = threading.Thread(target=self._run, name=f"log-pump-{path.name}", daemon=True)

    def start(self) -> LogPump:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for line in iter(self._stream.readline, b""):
                self._file.write(line)
        finally:
            self._stream.close()
            self._file.close()

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)
