"""``make run``: the whole system on one machine, with demo data.

Starts a real Kafka broker (unless QW_KAFKA_BOOTSTRAP names one), creates the topics, migrates the
database (SQLite under QW_DATA_DIR unless QW_DATABASE_URL says otherwise), starts intake,
indicators and alerts as separate processes, an agency inbox that prints the webhooks it gets, and
the demo lab feed (QW_DEMO=0 turns it off). Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import httpx

from shared.db import migrate
from shared.kafka import ensure_topics
from shared.settings import Settings, topic_partitions
from shared.webhook_receiver import WebhookReceiver

SERVICES = ("intake", "indicators", "alerts")
INBOX_SECRET_FILE = "agency-inbox-secret"


def say(message: str) -> None:
    print(f"[qualitywatch] {message}", flush=True)


def admin_token(settings: Settings) -> str:
    """QW_ADMIN_TOKEN, or one generated once and kept under the data folder."""
    if settings.admin_token:
        return settings.admin_token
    path = settings.data_dir / "admin-token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Stack:
    settings: Settings
    token: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kafka: object | None = None
    inbox: WebhookReceiver | None = None
    stopping: bool = False

    def service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "QW_ADMIN_TOKEN": self.token,
            "QW_DATA_DIR": str(self.settings.data_dir.resolve()),
            "QW_DATABASE_URL": self.settings.effective_database_url,
            "QW_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "QW_ALLOW_PRIVATE_WEBHOOKS": os.environ.get("QW_ALLOW_PRIVATE_WEBHOOKS", "true"),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start_kafka(self) -> None:
        if "QW_KAFKA_BOOTSTRAP" in os.environ:
            say(f"using the Kafka broker at {self.settings.kafka_bootstrap}")
            return
        from shared.localinfra.kafka import LocalKafka

        host, _, port = self.settings.kafka_bootstrap.rpartition(":")
        kafka = LocalKafka(self.settings.data_dir / "kafka", port=int(port), controller_port=int(port) + 1)
        say("fetching the Kafka broker jars if needed (first run only) …")
        kafka.ensure_jars()
        say(f"starting Kafka (KRaft, single node) on {host}:{port} …")
        kafka.start()
        self.kafka = kafka

    def start_services(self) -> None:
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            log = (logs / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"],
                                                    env=self.service_env(), stdout=log, stderr=subprocess.STDOUT)
        for name in SERVICES:
            self.wait_ready(name)

    def port(self, name: str) -> int:
        return {"intake": self.settings.intake_port, "indicators": self.settings.indicators_port,
                "alerts": self.settings.alerts_port}[name]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.settings.data_dir}/logs/{name}.log")
            try:
                if httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200:
                    say(f"{name} ready on {self.url(name)}")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} not ready after {timeout:.0f}s; see {self.settings.data_dir}/logs/{name}.log")

    def start_inbox(self) -> None:
        """A local 'agency inbox' subscribed for the demo agencies, printing what it receives."""
        secret_path = self.settings.data_dir / INBOX_SECRET_FILE
        if not secret_path.exists():
            secret_path.write_text(secrets.token_hex(16))
        secret = secret_path.read_text().strip()
        self.inbox = WebhookReceiver(secret=secret, port=int(os.environ.get("QW_INBOX_PORT", "8009")), echo=True)
        self.inbox.start()
        headers = {"Authorization": f"Bearer {self.token}"}
        base = self.url("alerts")
        for agency in ("agri", "market-supervision", "housing-construction", "city-3203"):
            existing = httpx.get(f"{base}/v1/agencies/{agency}/subscriptions", headers=headers, timeout=10)
            if existing.status_code == 200 and any(s.get("url") == self.inbox.url for s in _items(existing.json())):
                continue
            response = httpx.post(f"{base}/v1/agencies/{agency}/subscriptions", headers=headers, timeout=10,
                                  json={"url": self.inbox.url, "secret": secret, "min_severity": "warning"})
            if response.status_code != 201:
                say(f"could not subscribe {agency} to the demo inbox: {response.status_code} {response.text[:200]}")
        say(f"agency inbox listening on {self.inbox.url} (agri, market-supervision, housing-construction, city-3203)")

    def start_demo(self) -> None:
        if os.environ.get("QW_DEMO", "1") == "0":
            say("demo feed off (QW_DEMO=0)")
            return
        logs = self.settings.data_dir / "logs"
        self.processes["demo"] = subprocess.Popen(
            [sys.executable, "-m", "shared.demo", "--intake-url", self.url("intake"), "--token", self.token,
             # The year so far, so that year-to-date figures (sampling against quota) have their history.
             "--backfill-days", os.environ.get("QW_DEMO_BACKFILL", "ytd")],
            env=self.service_env(), stdout=(logs / "demo.log").open("ab"), stderr=subprocess.STDOUT)
        say(f"demo lab feed started (log: {logs / 'demo.log'})")

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        say("stopping …")
        for name in ("demo", *reversed(SERVICES)):
            process = self.processes.get(name)
            if process and process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.inbox:
            self.inbox.stop()
        if self.kafka is not None:
            self.kafka.stop()  # type: ignore[attr-defined]
        say("stopped; nothing left running")


def _items(body: object) -> list[dict[str, object]]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("subscriptions", "items"):
            if isinstance(body.get(key), list):
                return body[key]  # type: ignore[return-value]
    return []


def interrupt_once() -> Callable[[int, FrameType | None], None]:
    """A signal handler that interrupts the run the first time (KeyboardInterrupt) and only says so after:
    a second Ctrl-C or TERM while stopping must not cut the clean-up short (it left the broker running)."""
    interrupted = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupted
        if interrupted:
            say("still stopping …")
            return
        interrupted = True
        raise KeyboardInterrupt

    return on_signal


def main() -> int:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(settings=settings, token=admin_token(settings))

    on_signal = interrupt_once()
    # Both explicitly: a shell that starts us in the background hands us SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start_kafka()
        ensure_topics(settings.kafka_bootstrap, {settings.topic(n): p for n, p in topic_partitions().items()})
        say(f"database: {settings.effective_database_url}")
        migrate(settings.effective_database_url)
        stack.start_services()
        stack.start_inbox()
        stack.start_demo()
        say("")
        say(f"dashboard:      {stack.url('indicators')}/#token={stack.token}")
        say(f"operator token: {stack.token}")
        say(f"APIs:           {stack.url('intake')}/docs  {stack.url('indicators')}/docs  {stack.url('alerts')}/docs")
        say(f"logs:           {settings.data_dir / 'logs'}/   (Ctrl-C stops everything)")
        while True:
            for name, process in stack.processes.items():
                if process.poll() is not None and name != "demo":
                    raise RuntimeError(f"{name} stopped unexpectedly (exit {process.returncode}); "
                                       f"see {settings.data_dir}/logs/{name}.log")
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001 - report and clean up
        say(f"error: {exc}")
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
