"""One breach reaches all five channels once, and its resolution once each (issue 16).

The three services run as processes on the real broker and PostgreSQL; agri subscribes a webhook, a
DingTalk and a WeCom robot (the demo inbox's fakes: signature, format, size and rate checked), email (a
real SMTP server, aiosmtpd) and a real Alertmanager, read back through its v2 API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.alertmanager import LocalAlertmanager
from devtools.launcher import FAST_TIMINGS, ServiceProcesses
from devtools.localinfra import LocalKafka
from devtools.mail_sink import MailSink
from tests.e2e.test_chain import inspections
from tests.support import WebhookReceiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
SECRET = "agri-webhook-secret-0001"
ROBOT_SECRET = "SECe2e-dingtalk-robot-secret"


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[tuple[WebhookReceiver, MailSink, LocalAlertmanager]]:
    inbox = WebhookReceiver(secret=SECRET, robot_secrets={"e2e-agri": ROBOT_SECRET, "e2e-wecom": ""}).start()
    mail = MailSink().start()
    am = LocalAlertmanager(tmp_path / "alertmanager").start()
    try:
        yield inbox, mail, am
    finally:
        am.stop()
        mail.stop()
        inbox.stop()


def test_one_breach_reaches_every_channel_once_and_its_resolution_once_each(
        kafka_broker: LocalKafka, pg_url: str, kafka_topic_prefix: str, tmp_path: Path,
        sinks: tuple[WebhookReceiver, MailSink, LocalAlertmanager]) -> None:
    inbox, mail, am = sinks
    timings = {**FAST_TIMINGS, "QW_ALERT_RESOLVE_FOR_SECONDS": "1", "QW_ALERTMANAGER_RESEND_SECONDS": "2"}
    stack = ServiceProcesses(bootstrap=kafka_broker.bootstrap, database_url=pg_url, topic_prefix=kafka_topic_prefix,
                             data_dir=tmp_path / "stack", timings=timings,
                             extra_env={"QW_SMTP_HOST": "127.0.0.1", "QW_SMTP_PORT": str(mail.port),
                                        "QW_SMTP_SECURITY": "none"})
    try:
        stack.start()
        with stack.client("intake") as admin:
            lab_key = admin.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-3205"}).json()["api_key"]
        with stack.client("alerts") as operator:
            for body in ({"url": inbox.url("/hook"), "secret": SECRET},
                         {"channel": "dingtalk", "url": inbox.url("/dingtalk/robot/send?access_token=e2e-agri"),
                          "secret": ROBOT_SECRET},
                         {"channel": "wecom", "url": inbox.url("/wecom/cgi-bin/webhook/send?key=e2e-wecom")},
                         {"channel": "email", "recipients": ["duty@agri.example.org"]},
                         {"channel": "alertmanager", "url": am.url}):
                created = operator.post("/v1/agencies/agri/subscriptions", json=body)
                assert created.status_code == 201, created.text
        with stack.client("intake") as operator:  # Nanjing all pass: the province stays above target
            nanjing = inspections("LAB-3201", "320100", passes=400, fails=0)
            assert operator.post("/v1/events/batch", json={"events": nanjing}).status_code == 202
        with stack.client("intake", lab_key) as lab:  # Suzhou: 90 of 100, a breach
            assert lab.post("/v1/events/batch",
                            json={"events": inspections("LAB-3205", "320500", passes=90, fails=10)}).status_code == 202

        def fired() -> bool:
            return bool(inbox.to("/hook") and inbox.robot_messages("dingtalk") and inbox.robot_messages("wecom")
                        and mail.snapshot() and am.alerts(indicator="agri_sampling_pass_rate", region="320500"))

        wait_for(fired, timeout=90, what="the breach on every channel")
        firing = am.alerts(indicator="agri_sampling_pass_rate", region="320500")
        assert len(firing) == 1 and firing[0]["labels"]["agency"] == "agri"
        assert "苏州市" in inbox.robot_messages("dingtalk")[0].markdown  # type: ignore[operator]
        assert mail.snapshot()[0].subject.startswith("【告警开始】")

        with stack.client("intake", lab_key) as lab:  # 1990 passes more: 2080 of 2100, above target
            for start in range(100, 2090, 500):
                events = inspections("LAB-3205", "320500", passes=min(500, 2090 - start), fails=0, start=start)
                assert lab.post("/v1/events/batch", json={"events": events}).status_code == 202

        seen: dict[str, object] = {}

        def resolved() -> bool:
            with stack.client("alerts") as operator:
                pushed = [d for d in operator.get("/v1/deliveries").json()["deliveries"]
                          if d["channel"] == "alertmanager" and d["payload_status"] == "resolved"]
            seen.update(webhook=len(inbox.to("/hook")), dingtalk=len(inbox.robot_messages("dingtalk")),
                        wecom=len(inbox.robot_messages("wecom")), email=len(mail.snapshot()),
                        alertmanager_resolved=[d["status"] for d in pushed])
            return (seen["webhook"] == seen["dingtalk"] == seen["wecom"] == seen["email"] == 2
                    and seen["alertmanager_resolved"] == ["delivered"])

        try:
            wait_for(resolved, timeout=120, what="the resolution on every channel")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; seen {seen}; alerts log:\n{stack.log_tail('alerts', 40)}") from exc
        time.sleep(3)  # anything more would have arrived by now
        hooks = inbox.to("/hook")
        assert [h.json["status"] for h in hooks] == ["firing", "resolved"]
        assert [h.json["alerts"][0]["notice"] for h in hooks] == ["started", "resolved"]
        assert len(inbox.robot_messages("dingtalk")) == 2 and len(inbox.robot_messages("wecom")) == 2
        assert all(h.signature_valid for h in inbox.robot_messages("dingtalk"))
        assert [m.subject[:6] for m in mail.snapshot()] == ["【告警开始】", "【已恢复】主"]
        # Alertmanager took the resolution and lists nothing active: had the figure passed through a warning
        # on its way back (slow appliers), the alert's critical label set was ended by the push that
        # carried the warning, and the resolution ended both.
        assert am.alerts(indicator="agri_sampling_pass_rate", region="320500") == []
    finally:
        stack.stop()
