"""Run intake, indicators and alerts as separate processes: for tests, drills, benchmarks and ``make run``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools.logfiles import LogPump, tail
from devtools.ports import free_port
from devtools.waiting import wait_for

SERVICES = ("intake", "indicators", "alerts")

# Test-speed timings: an alert fires a second after its breach instead of a minute. ``make run`` and the
# benchmark pass their own (an empty dict keeps the production defaults).
FAST_TIMINGS = {
    "QW_EVALUATION_INTERVAL_SECONDS": "1",
    "QW_ALERT_FOR_SECONDS": "1",
    "QW_RECOMPUTE_INTERVAL_SECONDS": "2",
    "QW_DELIVERY_POLL_SECONDS": "0.2",
    "QW_RETRY_INITIAL_SECONDS": "0.5",
    "QW_LOG_LEVEL": "INFO",
}


@dataclass
class ServiceProcesses:
    """intake, indicators and alerts as subprocesses sharing one broker, database and topic prefix.

    Each service writes its output to ``log_dir/<name>.log`` (log_dir defaults to data_dir); with
    ``rotate`` = (max bytes, backups) the output is copied through a size-rotated file instead.
    """

    bootstrap: str
    database_url: str
    topic_prefix: str
    data_dir: Path
    admin_token: str = "e2e-admin-token-0123456789"
    timings: dict[str, str] = field(default_factory=lambda: dict(FAST_TIMINGS))
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_dir: Path | None = None
    rotate: tuple[int, int] | None = None
    _pumps: dict[str, LogPump] = field(default_factory=dict, init=False, repr=False)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "QW_KAFKA_BOOTSTRAP": self.bootstrap,
            "QW_DATABASE_URL": self.database_url,
            "QW_TOPIC_PREFIX": self.topic_prefix,
            "QW_DATA_DIR": str(self.data_dir),
            "QW_ADMIN_TOKEN": self.admin_token,
            "QW_ALLOW_PRIVATE_WEBHOOKS": "true",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.timings)
        env.update({f"QW_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update(self.extra_env)
        return env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def log_path(self, name: str) -> Path:
        return (self.log_dir or self.data_dir) / f"{name}.log"

    def start(self, *names: str, timeout: float = 60) -> None:
        for name in names or SERVICES:
            self.ports.setdefault(name, free_port())
        for name in names or SERVICES:
            self.spawn(name, [sys.executable, "-m", f"services.{name}"])
        for name in names or SERVICES:
            self.wait_ready(name, timeout)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start argv as the process called name, with the services' environment (``env`` added) and its own
        log file."""
        environment = {**self.env(), **(env or {})}
        path = self.log_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.rotate is None:
            with path.open("ab") as log:
                process = subprocess.Popen(argv, env=environment, stdout=log, stderr=subprocess.STDOUT)
        else:
            process = subprocess.Popen(argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            assert process.stdout is not None
            max_bytes, backups = self.rotate
            self._pumps[name] = LogPump(process.stdout, path, max_bytes=max_bytes, backups=backups).start()
        self.processes[name] = process
        return process

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.processes[name].poll() is not None:
                raise AssertionError(f"{name} exited early:\n{self.log_tail(name)}")
            try:
                return httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(ready, timeout=timeout, interval=0.2, what=f"{name} /readyz")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log_tail(name)}") from exc

    def log_tail(self, name: str, lines: int = 40) -> str:
        return tail(self.log_path(name), lines)

    def stop(self, *names: str, kill: bool = False) -> None:
        chosen = names or tuple(reversed(self.processes))
        for name in chosen:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            if kill:
                process.kill()
            else:
                process.terminate()
        for name in chosen:
            process = self.processes.get(name)
            if process is None:
                continue
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            pump = self._pumps.pop(name, None)
            if pump is not None:
                pump.join()

    def client(self, name: str, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.url(name), headers=headers, timeout=15)
