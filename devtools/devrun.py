"""``make run``: the whole system on one machine, with demo data.

Starts a real Kafka broker (unless QW_KAFKA_BOOTSTRAP names one; QW_LOCAL_KAFKA_PORT moves it off 9092),
creates the topics, migrates the database (SQLite under QW_DATA_DIR unless QW_DATABASE_URL says
otherwise), starts intake, indicators and alerts as separate processes, an agency inbox that prints the
webhooks it gets (QW_INBOX_PORT, default 8009), and the demo lab feed (QW_DEMO=0 turns it off).
The agri agency is also subscribed on every other notice channel: a DingTalk and a WeCom robot (the inbox
plays both and prints the rendered markdown), email to a local SMTP sink that prints what it receives
(QW_MAIL_SINK_PORT, default 8025; unless QW_SMTP_HOST names a real server) and, when Debian's
prometheus-alertmanager is installed, a local Alertmanager (QW_ALERTMANAGER_PORT, default 9095;
the local broker's controller holds 9093). Each
process logs to QW_DATA_DIR/logs/<name>.log, rotated at 10 MB with 3 old files kept. Ctrl-C or SIGTERM
stops everything it started. Tokens travel in the processes' environment, never on a command line, and the
data folder is private (0700; files 0600).
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from devtools.alertmanager import LocalAlertmanager, alertmanager_binary
from devtools.launcher import SERVICES, ServiceProcesses
from devtools.localinfra.kafka import LocalKafka
from devtools.mail_sink import MailSink
from devtools.waiting import WaitTimeout
from devtools.webhook_receiver import WebhookReceiver
from shared.db import migrate
from shared.kafka import ensure_topics
from shared.settings import Settings, topic_partitions

INBOX_SECRET_FILE = "agency-inbox-secret"
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3


def say(message: str) -> None:
    print(f"[qualitywatch] {message}", flush=True)


def admin_token(settings: Settings) -> str:
    """QW_ADMIN_TOKEN, or one generated once and kept under the data folder."""
    if settings.admin_token:
        return settings.admin_token
    path = settings.data_dir / "admin-token"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text().strip()


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (0600) from the first byte."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def make_private(data_dir: Path) -> None:
    """The data folder (database, secrets, broker data, logs) is its owner's alone: from now on every file this
    run and its processes create is 0600 and every folder 0700 (umask 077), and what earlier runs left is
    tightened the same way."""
    os.umask(0o077)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            Path(root, name).chmod(0o700)
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(0o600)


def local_settings() -> Settings:
    """The settings from the environment, with the bootstrap of our own broker when QW_LOCAL_KAFKA_PORT is set."""
    settings = Settings()
    port = os.environ.get("QW_LOCAL_KAFKA_PORT")
    if port and "QW_KAFKA_BOOTSTRAP" not in os.environ:
        settings = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{int(port)}"})
    return settings


@dataclass
class Stack:
    settings: Settings
    token: str
    services: ServiceProcesses = field(init=False)
    kafka: LocalKafka | None = None
    inbox: WebhookReceiver | None = None
    mail: MailSink | None = None
    alertmanager: LocalAlertmanager | None = None
    stopping: bool = False

    def __post_init__(self) -> None:
        settings = self.settings
        extra_env = {"QW_ALLOW_PRIVATE_WEBHOOKS": os.environ.get("QW_ALLOW_PRIVATE_WEBHOOKS", "true"),
                     # the link in every notice: this run's dashboard
                     "QW_DASHBOARD_PUBLIC_URL": os.environ.get("QW_DASHBOARD_PUBLIC_URL",
                                                               f"http://127.0.0.1:{settings.indicators_port}")}
        if "QW_SMTP_HOST" not in os.environ:  # the demo mail sink
            extra_env.update({"QW_SMTP_HOST": "127.0.0.1", "QW_SMTP_PORT": os.environ.get("QW_MAIL_SINK_PORT", "8025"),
                              "QW_SMTP_SECURITY": "none"})
        self.services = ServiceProcesses(
            bootstrap=settings.kafka_bootstrap, database_url=settings.effective_database_url,
            topic_prefix=settings.topic_prefix, data_dir=settings.data_dir.resolve(), admin_token=self.token,
            timings={}, extra_env=extra_env,
            ports={"intake": settings.intake_port, "indicators": settings.indicators_port,
                   "alerts": settings.alerts_port},
            log_dir=settings.data_dir / "logs", rotate=(LOG_MAX_BYTES, LOG_BACKUPS))

    def start_kafka(self) -> None:
        if "QW_KAFKA_BOOTSTRAP" in os.environ:
            say(f"using the Kafka broker at {self.settings.kafka_bootstrap}")
            return
        host, _, port = self.settings.kafka_bootstrap.rpartition(":")
        kafka = LocalKafka(self.settings.data_dir / "kafka", port=int(port), controller_port=int(port) + 1)
        say("fetching the Kafka broker jars if needed (first run only) …")
        kafka.ensure_jars()
        say(f"starting Kafka (KRaft, single node) on {host}:{port} …")
        kafka.start()
        self.kafka = kafka

    def start_channel_sinks(self) -> None:
        """The demo's mailbox (an SMTP sink) and, if installed, a local Alertmanager; before the services."""
        if "QW_SMTP_HOST" not in os.environ:
            self.mail = MailSink(port=int(os.environ.get("QW_MAIL_SINK_PORT", "8025")), echo=True).start()
            say(f"demo mailbox (SMTP) on 127.0.0.1:{self.mail.port}")
        if alertmanager_binary() is None:
            say("prometheus-alertmanager is not installed: no Alertmanager subscription in this demo "
                "(devtools/install-system-deps.sh installs it)")
            return
        alertmanager = LocalAlertmanager(self.settings.data_dir / "alertmanager",
                                         port=int(os.environ.get("QW_ALERTMANAGER_PORT", "9095")))
        try:
            self.alertmanager = alertmanager.start()
        except (OSError, RuntimeError, WaitTimeout) as exc:  # e.g. the system's own Alertmanager already holds the port
            alertmanager.stop()
            say(f"no local Alertmanager in this demo: {exc} (QW_ALERTMANAGER_PORT picks another port)")
            return
        say(f"local Alertmanager on {alertmanager.url} (its alerts: {alertmanager.url}/api/v2/alerts)")

    def start_services(self) -> None:
        self.services.start(timeout=90)
        for name in SERVICES:
            say(f"{name} ready on {self.url(name)}")

    def url(self, name: str) -> str:
        return self.services.url(name)

    def start_inbox(self) -> None:
        """A local 'agency inbox' subscribed for the demo agencies, printing what it receives."""
        secret_path = self.settings.data_dir / INBOX_SECRET_FILE
        if not secret_path.exists():
            write_private(secret_path, secrets.token_hex(16))
        secret = secret_path.read_text().strip()
        self.inbox = WebhookReceiver(secret=secret, port=int(os.environ.get("QW_INBOX_PORT", "8009")), echo=True,
                                     robot_secrets={"demo-agri": f"SEC{secret}", "demo-agri-wecom": ""})
        self.inbox.start()
        inbox_url = self.inbox.url("/hooks")  # the path earlier runs subscribed
        headers = {"Authorization": f"Bearer {self.token}"}
        base = self.url("alerts")
        for agency in ("agri", "market-supervision", "housing-construction", "city-3203"):
            existing = httpx.get(f"{base}/v1/agencies/{agency}/subscriptions", headers=headers, timeout=10)
            if existing.status_code == 200 and any(s.get("url") == inbox_url for s in _items(existing.json())):
                continue
            response = httpx.post(f"{base}/v1/agencies/{agency}/subscriptions", headers=headers, timeout=10,
                                  json={"url": inbox_url, "secret": secret, "min_severity": "warning"})
            if response.status_code != 201:
                say(f"could not subscribe {agency} to the demo inbox: {response.status_code} {response.text[:200]}")
        say(f"agency inbox listening on {inbox_url} (agri, market-supervision, housing-construction, city-3203)")
        self.subscribe_channels(secret)

    def subscribe_channels(self, secret: str) -> None:
        """One demo subscription of each other kind, for agri: what an official would see in each place."""
        assert self.inbox is not None
        headers = {"Authorization": f"Bearer {self.token}"}
        base = f"{self.url('alerts')}/v1/agencies/agri/subscriptions"
        wanted: dict[str, dict[str, object]] = {
            "dingtalk": {"url": self.inbox.url("/dingtalk/robot/send?access_token=demo-agri"),
                         "secret": f"SEC{secret}"},
            "wecom": {"url": self.inbox.url("/wecom/cgi-bin/webhook/send?key=demo-agri-wecom")},
            "email": {"recipients": ["agri-duty@agri.demo.invalid"]},
        }
        if self.alertmanager is not None:
            wanted["alertmanager"] = {"url": self.alertmanager.url}
        existing = httpx.get(base, headers=headers, timeout=10)
        have = {s.get("channel") for s in _items(existing.json())} if existing.status_code == 200 else set()
        for channel, settings in wanted.items():
            if channel in have:
                continue
            response = httpx.post(base, headers=headers, timeout=10, json={"channel": channel, **settings})
            if response.status_code != 201:
                say(f"could not subscribe agri by {channel}: {response.status_code} {response.text[:200]}")
        say(f"agri also hears by: {', '.join(wanted)} (the inbox prints the DingTalk and WeCom markdown and the mail)")

    def start_demo(self) -> None:
        if os.environ.get("QW_DEMO", "1") == "0":
            say("demo feed off (QW_DEMO=0)")
            return
        self.services.spawn("demo", [
            # The operator token reaches the feed in its environment (QW_ADMIN_TOKEN), never on its command
            # line, which every local user can read in the process list.
            sys.executable, "-m", "devtools.demo", "--intake-url", self.url("intake"),
            "--alerts-url", self.url("alerts"),
            # The year so far, so that year-to-date figures (sampling against quota) have their history.
            "--backfill-days", os.environ.get("QW_DEMO_BACKFILL", "ytd")])
        say(f"demo lab feed started (log: {self.services.log_path('demo')})")

    def exited(self) -> str | None:
        """The name of a service (not the demo feed) that has stopped by itself, if any."""
        for name, process in self.services.processes.items():
            if name != "demo" and process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        say("stopping …")
        self.services.stop()
        if self.inbox:
            self.inbox.stop()
        if self.mail is not None:
            self.mail.stop()
        if self.alertmanager is not None:
            self.alertmanager.stop()
        if self.kafka is not None:
            self.kafka.stop()
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
    settings = local_settings()
    make_private(settings.data_dir)
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
        stack.start_channel_sinks()
        stack.start_services()
        stack.start_inbox()
        stack.start_demo()
        say("")
        say(f"dashboard:      {stack.url('indicators')}/#token={stack.token}")
        say(f"operator token: {stack.token}")
        say(f"APIs:           {stack.url('intake')}/docs  {stack.url('indicators')}/docs  {stack.url('alerts')}/docs")
        say(f"logs:           {settings.data_dir / 'logs'}/   (Ctrl-C stops everything)")
        while True:
            name = stack.exited()
            if name is not None:
                code = stack.services.processes[name].returncode
                raise RuntimeError(f"{name} stopped unexpectedly (exit {code}); see {stack.services.log_path(name)}")
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
