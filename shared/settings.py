"""Settings for every service, read from the environment (prefix ``QW_``).

Nothing here is read at import time: each service's ``create_app(settings)`` takes a
``Settings`` object, and tests build their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CATALOGUE = Path(__file__).parent / "catalogue" / "jiangsu-2020.yaml"
# A later plan period as a documented example (targets illustrative): QW_CATALOGUE_PATH=<this file>.
EXAMPLE_CATALOGUE = Path(__file__).parent / "catalogue" / "example-2025-2027.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QW_", extra="ignore")

    data_dir: Path = Path(".qw-data")
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: str | None = None
    admin_token: str | None = None
    catalogue_path: Path = DEFAULT_CATALOGUE

    intake_port: int = 8001
    indicators_port: int = 8002
    alerts_port: int = 8003
    bind_host: str = "127.0.0.1"

    # Kafka topic names; a prefix lets tests and tenants share one broker.
    topic_prefix: str = ""
    # Consumer groups.
    indicators_group: str = "qw-indicators"
    alerts_group: str = "qw-alerts"

    # Request limits (every service; shared.bodylimit, shared.serve). ``max_body_bytes`` is intake's event
    # routes' limit (single and batch); ``api_max_body_bytes`` every other route's, unless a route declares
    # its own. A refused body is drained up to ``body_drain_bytes`` so that the 413/401 reaches the client.
    # A client has ``header_timeout_seconds`` to send a request's headers and ``body_timeout_seconds`` to send
    # its body once the headers are in; then it gets 408 and the connection is closed.
    max_body_bytes: int = 1024 * 1024
    api_max_body_bytes: int = 64 * 1024
    body_drain_bytes: int = 4 * 1024 * 1024
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0

    # Spreadsheet uploads (POST /v1/uploads): the file's size, and what an .xlsx may unpack to.
    max_upload_bytes: int = 32 * 1024 * 1024
    max_upload_rows: int = 50_000
    max_upload_uncompressed_bytes: int = 160 * 1024 * 1024

    # Intake limits.
    max_batch_events: int = 1000
    grace_period_days: int = 400
    future_skew_seconds: int = 300
    publish_timeout_seconds: float = 10.0
    # How long intake's producer waits to fill a batch. Requests that arrive while a batch is on its way share
    # the next one anyway; measured with 32 connections of single events, 1 ms gave ~+35 % over 5 ms (each
    # request waits for its acknowledgement) and batches of 500 the same rate.
    publish_linger_ms: int = 1
    # Intake's GET /v1/events/{event_id} asks indicators what became of an event (forwarding the caller's key)
    # at this URL (default: indicators on this host), waiting at most this long before answering "accepted".
    indicators_internal_url: str | None = None
    event_status_timeout_seconds: float = 2.0

    # Indicators.
    consumer_max_records: int = 2000
    recompute_interval_seconds: float = 30.0

    # Alerts.
    evaluation_interval_seconds: float = 15.0
    repeat_interval_seconds: float = 24 * 3600
    delivery_poll_seconds: float = 0.5
    delivery_timeout_seconds: float = 10.0
    retry_initial_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    retry_give_up_seconds: float = 48 * 3600.0
    allow_private_webhooks: bool = False
    # Delivery isolation: ``delivery_timeout_seconds`` is each attempt's TOTAL deadline (connect, send and
    # read together); at most ``delivery_response_max_bytes`` of an answer are read; ``delivery_concurrency``
    # attempts run at once, at most one per subscription, so a slow receiver delays only its own deliveries.
    delivery_response_max_bytes: int = 4096
    delivery_concurrency: int = 16
    # Notices: the dashboard's public address (the link in every notice), DingTalk/WeCom robots' rate
    # (messages a minute per robot, the vendors' limit) and how often firing alerts are re-pushed to an
    # agency's Alertmanager (keep it well below that Alertmanager's resolve_timeout, default 5 m).
    dashboard_public_url: str = "http://127.0.0.1:8002"
    robot_messages_per_minute: int = 20
    alertmanager_resend_seconds: float = 60.0
    # Email notices (per deployment; the password from the environment, QW_SMTP_PASSWORD, never logged).
    # smtp_security: starttls (submission, port 587), tls (implicit TLS, port 465) or none (a local relay).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "QualityWatch <qualitywatch@localhost>"
    smtp_verify_tls: bool = True
    # Alert rule defaults (seconds): how long a figure must stay bad before an alert fires (a dip
    # while indicators catches up on a backlog does not page anyone), and how long it must stay ok
    # before a firing alert resolves (anti-flapping).
    alert_for_seconds: float = 60.0
    alert_resolve_for_seconds: float = 600.0
    # How long a report missing at its due date waits (pending) before its overdue alert fires: a
    # backfill of past reports, or indicators catching up after an outage, brings it in that time.
    report_overdue_for_seconds: float = 900.0

    # Dashboard and report (served by indicators). The browser calls the alert service directly at
    # alerts_public_url, so the alert service allows CORS from dashboard_origins (comma-separated).
    # The report fetches alerts server-side at alerts_internal_url (defaults to alerts_public_url).
    alerts_public_url: str = "http://127.0.0.1:8003"
    alerts_internal_url: str | None = None
    dashboard_origins: str = "http://127.0.0.1:8002,http://localhost:8002"
    # Short-lived signed links to the quality report (HTML or PDF) that a browser opens without a bearer
    # token: minted by an authenticated call (POST /v1/reports/quality/links), HMAC-SHA256 with this secret,
    # bound to period, format and language, valid for report_link_minutes. Unset: a random secret per
    # process (links die with a restart, and several replicas need a shared secret set here).
    report_link_secret: str | None = None
    report_link_minutes: int = Field(10, ge=1, le=24 * 60)

    log_level: str = "INFO"
    log_json: bool = True

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators above @property; pydantic's documented use
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'qualitywatch.db').resolve()}"

    @property
    def effective_indicators_url(self) -> str:
        return (self.indicators_internal_url or f"http://127.0.0.1:{self.indicators_port}").rstrip("/")

    @property
    def dashboard_origin_list(self) -> list[str]:
        return [o.strip() for o in self.dashboard_origins.split(",") if o.strip()]

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def events_topic(self) -> str:
        return self.topic("qw.events")

    @property
    def figures_topic(self) -> str:
        return self.topic("qw.figures")

    @property
    def dead_letter_topic(self) -> str:
        return self.topic("qw.events.dlq")


def topic_partitions() -> dict[str, int]:
    """Default partition counts for the topics the run command creates."""
    return {"qw.events": 6, "qw.figures": 3, "qw.events.dlq": 1}


__all__ = ["Settings", "DEFAULT_CATALOGUE", "EXAMPLE_CATALOGUE", "topic_partitions"]
