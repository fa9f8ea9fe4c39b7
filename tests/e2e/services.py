"""Run the three services as separate processes for end-to-end tests and drills."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

SERVICES = ("intake", "indicators", "alerts")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.2, what: str = "condition") -> T:
    """Call probe until it returns something truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@dataclass
class ServiceProcesses:
    """intake, indicators and alerts as subprocesses sharing one broker, database and topic prefix."""

    bootstrap: str
    database_url: str
    topic_prefix: str
    data_dir: Path
    admin_token: str = "e2e-admin-token-0123456789"
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "QW_KAFKA_BOOTSTRAP": self.bootstrap,
            "QW_DATABASE_URL": self.database_url,
            "QW_TOPIC_PREFIX": self.topic_prefix,
            "QW_DATA_DIR": str(self.data_dir),
            "QW_ADMIN_TOKEN": self.admin_token,
            "QW_ALLOW_PRIVATE_WEBHOOKS": "true",
            "QW_EVALUATION_INTERVAL_SECONDS": "1",
            "QW_ALERT_FOR_SECONDS": "1",
            "QW_RECOMPUTE_INTERVAL_SECONDS": "2",
            "QW_DELIVERY_POLL_SECONDS": "0.2",
            "QW_RETRY_INITIAL_SECONDS": "0.5",
            "QW_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        })
        env.update({f"QW_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update(self.extra_env)
        return env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, *names: str) -> None:
        for name in names or SERVICES:
            self.ports.setdefault(name, free_port())
        for name in names or SERVICES:
            log = (self.data_dir / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=self.env(),
                                                    stdout=log, stderr=subprocess.STDOUT)
        for name in names or SERVICES:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.processes[name].poll() is not None:
                raise AssertionError(f"{name} exited early:\n{self.log_tail(name)}")
            try:
                return httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            poll(ready, timeout=timeout, what=f"{name} /readyz")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log_tail(name)}") from exc

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.data_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, *names: str, kill: bool = False) -> None:
        for name in names or tuple(self.processes):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            if kill:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def client(self, name: str, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.url(name), headers=headers, timeout=15)
