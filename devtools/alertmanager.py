"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) on a free loopback port.

The tests' fixture and ``make run`` start one with a minimal configuration (one receiver that sends
nowhere, ``resolve_timeout`` 5 m, clustering off) and read ``/api/v2/alerts`` back.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools.ports import free_port
from devtools.waiting import wait_for

CONFIG = """\
global:
  resolve_timeout: {resolve_timeout}
route:
  receiver: nowhere
  group_wait: 1s
receivers:
  - name: nowhere
"""


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@dataclass
class LocalAlertmanager:
    data_dir: Path
    port: int = 0
    resolve_timeout: str = "5m"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> LocalAlertmanager:
        binary = alertmanager_binary()
        if binary is None:
            raise FileNotFoundError("prometheus-alertmanager is not installed (devtools/install-system-deps.sh)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config = self.data_dir / "alertmanager.yml"
        config.write_text(CONFIG.format(resolve_timeout=self.resolve_timeout))
        log = (self.data_dir / "alertmanager.log").open("ab")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={self.data_dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=timeout, what="alertmanager ready")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"alertmanager exited: see {self.data_dir / 'alertmanager.log'}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (active, silenced and inhibited; resolved alerts are left out)."""
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5, trust_env=False)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
