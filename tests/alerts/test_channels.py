"""Notices over DingTalk, WeCom, email and Alertmanager, through the outbox (issue 16).

The robots are the demo inbox's fakes (devtools/webhook_receiver.py: signature, format, size and rate
checked as the vendors document them); email goes to a real SMTP server (aiosmtpd) in the test process;
Alertmanager is the real binary (devtools/alertmanager.py), read back through its v2 API.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from devtools.alertmanager import LocalAlertmanager, alertmanager_binary
from devtools.mail_sink import MailSink
from services.alerts.channels import wecom_body
from services.alerts.models import Alert, Delivery
from services.alerts.notices import NoticeRenderer
from tests.alerts.support import Harness, Receiver, figure

ROBOT_SECRET = "SECb0d9c5e1f4a2fake-robot-secret"


def resolve(harness: Harness) -> None:
    harness.advance(3600)
    harness.apply(figure("ok"))
    harness.advance(60)
    harness.apply(figure("ok"))
    harness.periodic()


@pytest.fixture
def robots(harness: Harness) -> Iterator[Receiver]:
    r = Receiver(robot_secrets={"tok-agri": ROBOT_SECRET, "key-agri": ""},
                 robot_clock=lambda: harness.clock.now().timestamp()).start()
    yield r
    r.stop()


def test_a_breach_reaches_a_signed_dingtalk_robot_once_in_chinese_and_its_resolution_once(
        harness: Harness, robots: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="services")  # (httpx, which logs request URLs, is at WARNING: shared.logs)
    harness.subscribe("agri", robots.url("/dingtalk/robot/send?access_token=tok-agri"), secret=ROBOT_SECRET,
                      channel="dingtalk", at_mobiles=["13800001111"])
    harness.apply(figure("breach"))
    assert harness.deliver() == 1
    harness.advance(10)
    harness.periodic()
    harness.deliver()
    (hook,) = robots.snapshot()
    assert hook.errcode == 0 and hook.signature_valid
    message = hook.json
    assert message["msgtype"] == "markdown" and message["at"]["atMobiles"] == ["13800001111"]
    assert message["markdown"]["title"] == "【告警开始】主要地产农产品质量抽检合格率 · 苏州市"
    text = message["markdown"]["text"]
    for expected in ("状态：告警开始（严重）", "数值：95.1%（n = 1,000，95% 区间 93.6%–96.3%）", "目标：≥ 97.0%",
                     "自：2026-11-20 10:00（北京时间）", "在仪表盘查看](http://127.0.0.1:8002/?indicator=",
                     "@13800001111"):
        assert expected in text, text
    assert [d.status for d in harness.deliveries()] == ["delivered"]
    assert harness.registry.get_sample_value("qw_alerts_channel_notifications_total",
                                             {"channel": "dingtalk", "outcome": "delivered"}) == 1

    resolve(harness)
    harness.deliver()
    harness.deliver()
    messages = robots.robot_messages("dingtalk")
    assert len(messages) == 2
    assert messages[1].json["markdown"]["title"].startswith("【已恢复】") and "恢复于：" in messages[1].markdown
    assert "tok-agri" not in caplog.text and ROBOT_SECRET not in caplog.text  # credentials never logged


def test_an_escalation_says_so(harness: Harness, robots: Receiver) -> None:
    harness.subscribe("agri", robots.url("/wecom/cgi-bin/webhook/send?key=key-agri"), secret="", channel="wecom")
    harness.apply(figure("at_risk"))
    harness.deliver()
    harness.advance(60)
    harness.apply(figure("breach"))
    harness.deliver()
    first, second = (h.markdown or "" for h in robots.robot_messages("wecom"))
    assert "【告警开始】" in first and "（警告）" in first
    assert "【告警升级】" in second and "状态：告警升级（严重）" in second


def test_a_dingtalk_error_code_is_not_delivered_but_retried(harness: Harness, robots: Receiver) -> None:
    harness.subscribe("agri", robots.url("/dingtalk/robot/send?access_token=tok-agri"), secret=ROBOT_SECRET,
                      channel="dingtalk")
    robots.robot_errcode = 410100  # the robot is rate-limited
    harness.apply(figure("breach"))
    harness.deliver()
    (delivery,) = harness.deliveries()
    assert delivery.status == "pending" and delivery.attempts == 1 and "errcode 410100" in (delivery.last_error or "")
    robots.robot_errcode = None
    harness.advance(5)
    harness.deliver()
    (delivery,) = harness.deliveries()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert len(robots.robot_messages("dingtalk")) == 1


def test_a_wrong_signing_secret_is_refused_by_dingtalk_and_retried(harness: Harness, robots: Receiver) -> None:
    harness.subscribe("agri", robots.url("/dingtalk/robot/send?access_token=tok-agri"), secret="SECwrong-secret",
                      channel="dingtalk")
    harness.apply(figure("breach"))
    harness.deliver()
    (hook,) = robots.snapshot()
    assert hook.errcode == 310000 and not hook.signature_valid
    assert harness.deliveries()[0].status == "pending"


def test_a_wecom_robot_gets_markdown_in_english_when_asked(harness: Harness, robots: Receiver) -> None:
    harness.subscribe("agri", robots.url("/wecom/cgi-bin/webhook/send?key=key-agri"), secret="", channel="wecom",
                      locale="en")
    harness.apply(figure("breach"))
    harness.deliver()
    (hook,) = robots.snapshot()
    assert hook.errcode == 0
    content = hook.json["markdown"]["content"]
    assert "[Started]" in content and "Suzhou" in content and "Value: 95.1% (n = 1,000, 95% interval" in content


def test_a_robot_gets_at_most_20_messages_a_minute_and_the_rest_wait(harness: Harness, robots: Receiver) -> None:
    subscription_id = harness.subscribe("agri", robots.url("/wecom/cgi-bin/webhook/send?key=key-agri"), secret="",
                                        channel="wecom")
    now = harness.clock.now()
    with harness.rt.service.write() as session:
        for i in range(25):
            session.add(Delivery(delivery_id=str(uuid.uuid4()), subscription_id=subscription_id, agency_id="agri",
                                 channel="wecom", status="pending", payload_status="firing",
                                 body=wecom_body(f"message {i}"), attempts=0, next_attempt_at=now,
                                 retry_started_at=now, created_at=now))
    for _ in range(3):
        harness.deliver()
    assert len(robots.snapshot()) == 20 and all(h.errcode == 0 for h in robots.snapshot())
    assert len(harness.deliveries("pending")) == 5  # held back, not lost
    harness.advance(61)
    harness.deliver()
    assert len(robots.robot_messages("wecom")) == 25 and not harness.deliveries("pending")


def test_wecom_markdown_is_cut_to_4096_bytes_between_alerts_never_mid_character(harness: Harness) -> None:
    renderer = NoticeRenderer(harness.rt.catalogue, "https://qw.example.org")
    alert = Alert(alert_id="a1", indicator="agri_sampling_pass_rate", region="320500", category=None, window="30d",
                  state="firing", severity="critical", value=0.951, ci95_lo=0.9358, ci95_hi=0.9627, numerator=951,
                  denominator=1000, target_op=">=", target_value=0.97, started_at=harness.clock.now())
    items = [renderer.item(alert, "firing", "zh-CN") for _ in range(40)]
    text = renderer.markdown(items, "zh-CN", max_bytes=4096)
    assert len(text.encode()) <= 4096 and text.endswith("条") and "……等 " in text
    kept = text.count("#### ")
    assert text.endswith(f"……等 {40 - kept} 条")
    alert.category = "蔬菜" * 3000  # one alert longer than the limit on its own
    cut = renderer.markdown([renderer.item(alert, "firing", "zh-CN")], "zh-CN", max_bytes=4096)
    assert len(cut.encode()) <= 4096 and len(cut.encode()) > 4090 and cut.encode().decode() == cut
    english = renderer.markdown(items, "en", max_bytes=4096)
    assert len(english.encode()) <= 4096 and english.endswith("more") and "…and " in english


def test_region_names_and_ack_comments_cannot_inject_markdown_or_html(harness: Harness) -> None:
    renderer = NoticeRenderer(harness.rt.catalogue, "https://qw.example.org")
    alert = Alert(alert_id="a1", indicator="agri_sampling_pass_rate", region="320500",
                  category="[点我](http://evil.example) <script>alert(1)</script>", window="30d", state="firing",
                  severity="warning", value=0.96, ci95_lo=0.95, ci95_hi=0.97, numerator=960, denominator=1000,
                  target_op=">=", target_value=0.97, started_at=harness.clock.now(), acked_at=harness.clock.now(),
                  acked_by="agency:agri", ack_comment="**紧急**\n# 标题 <img src=x onerror=alert(1)> [x](javascript:1)")
    item = renderer.item(alert, "reminder", "zh-CN")
    markdown = renderer.markdown([item], "zh-CN", max_bytes=4096)
    assert "](http://evil.example)" not in markdown and "\\[点我\\]\\(http://evil.example\\)" in markdown
    assert "\n# 标题" not in markdown and "\\*\\*紧急\\*\\*" in markdown and "<script>" not in markdown
    assert "[x](javascript" not in markdown
    html = renderer.html([item], "zh-CN")
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert 'href="http://evil' not in html
    text = renderer.text([item], "zh-CN")
    assert "\n# 标题" not in text  # one line per field: a comment cannot fake another line


# ---- email (real SMTP server) ------------------------------------------------------------------------------
def server_tls(tmp_path: Path) -> ssl.SSLContext:
    """A self-signed certificate for the test's SMTP server (the client is told not to verify it)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert), "-days", "1"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def mail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailSink]:
    login, security = getattr(request, "param", (None, "none"))
    tls = server_tls(tmp_path) if security != "none" else None
    sink = MailSink(login=login, tls=tls, implicit_tls=security == "tls").start()
    sink.security = security  # type: ignore[attr-defined]
    yield sink
    sink.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mail", [(None, "none"), (("qw-sender", "smtp-pass-from-env"), "none"),
                                  (("qw-sender", "smtp-pass-from-env"), "starttls"), (None, "tls")],
                         indirect=True, ids=["plain", "login", "starttls-login", "implicit-tls"])
def test_an_email_notice_arrives_with_a_chinese_subject_and_text_and_html_parts(
        db_url: str, tmp_path: Path, mail: MailSink, monkeypatch: pytest.MonkeyPatch) -> None:
    options = {"smtp_host": "127.0.0.1", "smtp_port": mail.port, "smtp_security": mail.security,  # type: ignore[attr-defined]
               "smtp_verify_tls": False, "smtp_sender": "QualityWatch <qw@qualitywatch.invalid>"}
    if mail.login is not None:
        monkeypatch.setenv("QW_SMTP_PASSWORD", mail.login[1])  # credentials come from the environment
        options["smtp_username"] = mail.login[0]
    harness = Harness(db_url, tmp_path, **options)
    try:
        if mail.login is not None:
            assert harness.settings.smtp_password is not None
            assert mail.login[1] not in repr(harness.settings)
        harness.subscribe("agri", "", secret="", channel="email",
                          recipients=["qa@agri.example.org", "duty@agri.example.org"])
        harness.apply(figure("breach"))
        harness.deliver()
        harness.advance(10)
        harness.deliver()
        (received,) = mail.snapshot()
        assert received.rcpt_tos == ["qa@agri.example.org", "duty@agri.example.org"]
        assert received.subject == "【告警开始】主要地产农产品质量抽检合格率 · 苏州市"
        assert b"=?utf-8?" in received.raw.split(b"\r\n\r\n", 1)[0].lower()  # the header is RFC 2047 encoded
        plain, html = received.part("plain"), received.part("html")
        assert "数值：95.1%（n = 1,000，95% 区间 93.6%–96.3%）" in plain and "在仪表盘查看: http://" in plain
        assert "苏州市" in html and '<a href="http://127.0.0.1:8002/?indicator=' in html
        assert received.message["Message-ID"] and harness.deliveries()[0].status == "delivered"
        resolve(harness)
        harness.deliver()
        assert [m.subject[:5] for m in mail.snapshot()] == ["【告警开始", "【已恢复】"]
    finally:
        harness.close()


def test_an_unreachable_mail_server_is_retried(db_url: str, tmp_path: Path) -> None:
    from devtools.ports import free_port

    harness = Harness(db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none")
    try:
        harness.subscribe("agri", "", secret="", channel="email", recipients=["qa@agri.example.org"])
        harness.apply(figure("breach"))
        harness.deliver()
        (delivery,) = harness.deliveries()
        assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_error
    finally:
        harness.close()


# ---- Alertmanager (the real binary) ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlertmanager]:
    if alertmanager_binary() is None:
        pytest.fail("prometheus-alertmanager is not installed: run devtools/install-system-deps.sh")
    am = LocalAlertmanager(tmp_path_factory.mktemp("alertmanager")).start()
    yield am
    am.stop()


def test_alertmanager_holds_the_alert_while_it_fires_and_ends_it_when_it_resolves(
        harness: Harness, alertmanager: LocalAlertmanager) -> None:
    with harness.rt.service.write() as session:
        from services.alerts.models import Subscription
        session.add(Subscription(subscription_id=str(uuid.uuid4()), agency_id="agri", url=alertmanager.url,
                                 secret="", min_severity="warning", channel="alertmanager", locale="zh-CN",
                                 options="{}", created_at=harness.clock.now()))
    harness.apply(figure("breach"))
    assert harness.deliver() == 1
    assert harness.deliveries()[0].status == "delivered"
    (alert,) = alertmanager.alerts(indicator="agri_sampling_pass_rate", region="320500", agency="agri")
    assert alert["status"]["state"] == "active"
    assert alert["labels"] == {"alertname": "QualityWatchIndicatorBreach", "indicator": "agri_sampling_pass_rate",
                               "region": "320500", "category": "all", "window": "30d", "severity": "critical",
                               "agency": "agri"}
    assert alert["annotations"]["summary"] == "主要地产农产品质量抽检合格率（苏州市）严重：95.1%，目标 ≥ 97.0%"
    assert "(Suzhou) critical: 95.1%, target ≥ 97.0%" in alert["annotations"]["summary_en"]
    assert alert["annotations"]["dashboard_url"].startswith("http://127.0.0.1:8002/?indicator=")
    first_update = alert["updatedAt"]
    # while it fires, the worker re-pushes it before Alertmanager's resolve_timeout would end it
    harness.advance(harness.settings.alertmanager_resend_seconds + 1)
    harness.deliver()
    (again,) = alertmanager.alerts(indicator="agri_sampling_pass_rate", region="320500", agency="agri")
    assert again["updatedAt"] > first_update and again["status"]["state"] == "active"
    resolve(harness)
    harness.deliver()
    statuses = [d.status for d in harness.deliveries()]
    assert statuses == ["delivered", "delivered"], statuses
    assert alertmanager.alerts(indicator="agri_sampling_pass_rate", region="320500", agency="agri") == []
    with harness.rt.sessions() as session:
        body = json.loads(session.scalars(select(Delivery.body).order_by(Delivery.created_at.desc())).first() or "[]")
    assert body[0]["endsAt"] and dt.datetime.fromisoformat(body[0]["endsAt"]) > dt.datetime.fromisoformat(
        body[0]["startsAt"])


def test_a_severity_change_while_firing_leaves_no_stale_alert_in_alertmanager(
        harness: Harness, alertmanager: LocalAlertmanager) -> None:
    """Severity is a label, so Alertmanager holds one alert per severity (as for Prometheus' rules): when a
    firing alert's severity changes, the next push ends the severity it left, and the resolution ends all;
    a severity the alert never held is never pushed (no phantom resolved alert in the agency's group)."""
    harness.subscribe("agri", alertmanager.url, channel="alertmanager")
    wuxi = {"indicator": "agri_sampling_pass_rate", "region": "320200", "agency": "agri"}
    harness.apply(figure("breach", region="320200"))
    harness.deliver()
    assert [a["labels"]["severity"] for a in alertmanager.alerts(**wuxi)] == ["critical"]
    (started,) = harness.deliveries()
    assert [a["labels"]["severity"] for a in json.loads(started.body)] == ["critical"]
    harness.advance(60)
    harness.apply(figure("at_risk", region="320200"))  # de-escalates: no notice, the next re-push carries it
    harness.advance(harness.settings.alertmanager_resend_seconds + 1)
    harness.deliver()
    assert [a["labels"]["severity"] for a in alertmanager.alerts(**wuxi)] == ["warning"]
    harness.apply(figure("breach", region="320200"))  # critical again (already notified): the re-push carries it
    harness.advance(harness.settings.alertmanager_resend_seconds + 1)
    harness.deliver()
    assert [a["labels"]["severity"] for a in alertmanager.alerts(**wuxi)] == ["critical"]
    harness.advance(3600)
    harness.apply(figure("ok", region="320200"))
    harness.periodic()
    harness.deliver()
    assert [d.status for d in harness.deliveries()] == ["delivered", "delivered"]  # started, resolved
    assert alertmanager.alerts(**wuxi) == []


# ---- issue 19's notices on every channel: overdue reports, contributors, provisional failures -------------
def _province_with_contributors_and_provisional(harness: Harness) -> None:
    from shared.figures import Contributor
    xuzhou = Contributor(region="320300", points=1.35, numerator=850, denominator=1000, value=0.85)
    nanjing = Contributor(region="320100", points=0.2, numerator=960, denominator=1000, value=0.96)
    province = figure("breach", region="320000").model_copy(
        update={"contributors": (xuzhou, nanjing), "provisional": 12})
    harness.apply(province)


def _overdue_lianyungang(harness: Harness) -> None:
    from services.indicators.models import ReportedFigure
    from shared.clock import CST
    harness.clock.set(dt.datetime(2026, 11, 12, 9, 0, tzinfo=CST))
    now = harness.clock.now()
    with harness.rt.service.write() as session:
        for city in harness.rt.catalogue.city_codes:
            if city != "320700":
                session.add(ReportedFigure(indicator="metrology_coverage", region=city, period="2026-10",
                                           numerator=99, denominator=100, value=None, occurred_at=now,
                                           reported_at=now, event_id=f"r-{city}"))
    harness.periodic()


def _drain(harness: Harness) -> None:
    for _ in range(3):
        harness.deliver()
        harness.advance(5)


def test_a_provincial_alert_on_dingtalk_names_its_cities_and_provisional_failures_in_both_languages(
        harness: Harness, robots: Receiver) -> None:
    url = robots.url("/dingtalk/robot/send?access_token=tok-agri")
    harness.subscribe("agri", url, secret=ROBOT_SECRET, channel="dingtalk")
    harness.subscribe("agri", url, secret=ROBOT_SECRET, channel="dingtalk", locale="en")
    _province_with_contributors_and_provisional(harness)
    _drain(harness)
    texts = {("en" if "[Started]" in (h.markdown or "") else "zh"): h.markdown or ""
             for h in robots.robot_messages("dingtalk")}
    assert set(texts) == {"zh", "en"}
    zh, en = texts["zh"], texts["en"]
    assert "#### 【告警开始】主要地产农产品质量抽检合格率 · 江苏省" in zh
    assert "- 其中 12 个不合格结果尚未确定（在异议期内或等待复检）" in zh
    assert "- 主要影响城市：徐州市（差距 1.4 个百分点，n = 1,000）、南京市（差距 0.2 个百分点，n = 1,000）" in zh
    assert "- 12 of the failures are still provisional (open to objection or awaiting a re-test)" in en
    assert "- Cities contributing most: Xuzhou (1.4 pp of the gap, n = 1,000); Nanjing (0.2 pp of the gap" in en
    assert not re.search(r"[\u4e00-\u9fff]", en.split("](")[0]), en


def test_an_overdue_report_on_dingtalk_says_which_period_is_missing_not_a_value(
        harness: Harness, robots: Receiver) -> None:
    url = robots.url("/dingtalk/robot/send?access_token=tok-agri")
    harness.subscribe("market-supervision", url, secret=ROBOT_SECRET, channel="dingtalk")
    harness.subscribe("market-supervision", url, secret=ROBOT_SECRET, channel="dingtalk", locale="en")
    _overdue_lianyungang(harness)
    _drain(harness)
    by_title = {h.json["markdown"]["title"]: h.markdown or "" for h in robots.robot_messages("dingtalk")}
    zh = by_title["【报告逾期】社会公用计量标准和量值传递体系覆盖率 · 连云港市"]
    en = next(text for title, text in by_title.items() if title.startswith("[Report overdue]"))
    assert "- 状态：报告逾期（警告）" in zh and "- 报告期：2026\\-10" not in zh and "- 报告期：2026-10" in zh
    assert "该期数据已过报送期限，尚未收到" in zh and "数值" not in zh and "目标" not in zh
    assert "- Period: 2026-10" in en and "past its due date" in en and "Lianyungang" in en and "Value" not in en


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_notices_of_an_overdue_report_and_a_provincial_alert_in_chinese_and_english(
        db_url: str, tmp_path: Path, mail: MailSink) -> None:
    harness = Harness(db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=mail.port, smtp_security="none",
                      smtp_sender="QualityWatch <qw@qualitywatch.invalid>")
    try:
        harness.subscribe("agri", "", secret="", channel="email", recipients=["zh@agri.example.org"])
        harness.subscribe("agri", "", secret="", channel="email", recipients=["en@agri.example.org"], locale="en")
        harness.subscribe("market-supervision", "", secret="", channel="email", recipients=["zh@ms.example.org"])
        harness.subscribe("market-supervision", "", secret="", channel="email", recipients=["en@ms.example.org"],
                          locale="en")
        _overdue_lianyungang(harness)
        _province_with_contributors_and_provisional(harness)
        _drain(harness)
        got = {(m.rcpt_tos[0], m.subject): m for m in mail.snapshot()}
        subjects = sorted(subject for _to, subject in got)
        assert "【报告逾期】社会公用计量标准和量值传递体系覆盖率 · 连云港市" in subjects, subjects
        assert "【告警开始】主要地产农产品质量抽检合格率 · 江苏省" in subjects, subjects
        overdue_zh = got[("zh@ms.example.org", "【报告逾期】社会公用计量标准和量值传递体系覆盖率 · 连云港市")]
        assert "报告期：2026-10" in overdue_zh.part("plain") and "逾期自：2026-11-12 09:00（北京时间）" in \
            overdue_zh.part("plain")
        overdue_en = next(m for (to, s), m in got.items() if to == "en@ms.example.org" and "Report overdue" in s)
        assert "Period: 2026-10" in overdue_en.part("plain") and "<li>Period: 2026-10</li>" in overdue_en.part("html")
        province_zh = got[("zh@agri.example.org", "【告警开始】主要地产农产品质量抽检合格率 · 江苏省")]
        plain = province_zh.part("plain")
        assert "其中 12 个不合格结果尚未确定" in plain and "徐州市（差距 1.4 个百分点，n = 1,000）" in plain
        assert "<li>主要影响城市：徐州市（差距 1.4 个百分点，n = 1,000）" in province_zh.part("html")
        province_en = next(m for (to, s), m in got.items() if to == "en@agri.example.org" and "Jiangsu" in s)
        assert "Xuzhou (1.4 pp of the gap, n = 1,000)" in province_en.part("plain")
        assert "12 of the failures are still provisional" in province_en.part("html")
    finally:
        harness.close()


def test_an_overdue_report_reaches_alertmanager_under_its_own_alertname() -> None:
    from shared.catalogue import load_catalogue
    from shared.settings import Settings
    renderer = NoticeRenderer(load_catalogue(Settings().catalogue_path), "https://qw.example.org")
    at = dt.datetime(2026, 11, 11, 1, 0, tzinfo=dt.UTC)
    overdue = Alert(alert_id="o1", figure_key="overdue|metrology_coverage|320700|2026-10",
                    indicator="metrology_coverage", region="320700", category=None, window="2026-10",
                    state="firing", severity="warning", target_op=">=", target_value=0.95, active_at=at, started_at=at)
    (pushed,) = renderer.alertmanager_alerts(overdue, "firing", "market-supervision")
    assert pushed["labels"]["alertname"] == "QualityWatchReportOverdue" and pushed["labels"]["window"] == "2026-10"
    assert pushed["annotations"]["summary"].startswith("【报告逾期】")


def test_the_rectification_loop_notices_render_on_every_channel_in_both_languages() -> None:
    from shared.catalogue import load_catalogue
    from shared.clock import CST
    from shared.settings import Settings
    renderer = NoticeRenderer(load_catalogue(Settings().catalogue_path), "https://qw.example.org")
    started = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    alert = Alert(alert_id="a1", indicator="agri_sampling_pass_rate", region="320300", category=None, window="30d",
                  state="firing", severity="warning", value=0.95, ci95_lo=0.93, ci95_hi=0.96, numerator=950,
                  denominator=1000, target_op=">=", target_value=0.97, started_at=started)
    deadline = dt.datetime(2026, 12, 1, 17, 0, tzinfo=CST)
    plan = {"provisional_failures": 3, "loop": {"deadline": deadline.isoformat(), "unit": "徐州市*农业*农村局"}}
    zh = renderer.markdown([renderer.item(alert, "rectify_overdue", "zh-CN", extras=plan)], "zh-CN", max_bytes=4096)
    assert zh.startswith("#### 【整改逾期升级】主要地产农产品质量抽检合格率 · 徐州市")
    assert "- 整改计划：责任单位 徐州市\\*农业\\*农村局，期限 2026-12-01 17:00（北京时间），已过期限尚未闭环" in zh
    assert "- 其中 3 个不合格结果尚未确定" in zh
    en = renderer.text([renderer.item(alert, "rectify_overdue", "en", extras=plan)], "en")
    assert "[Rectification overdue, escalated] " in en
    assert "Rectification plan: 徐州市*农业*农村局, due 2026-12-01 17:00" in en
    rectified = renderer.item(alert, "rectified", "zh-CN", extras={"loop": {"follow_ups": 6}})
    assert renderer.title([rectified], "zh-CN").startswith("【已整改】")
    assert "跟踪抽检：已收到 6 个样品，指标已恢复达标" in renderer.html([rectified], "zh-CN")
    closed = renderer.item(alert, "closed", "en")
    assert renderer.title([closed], "en").startswith("[Closed]")
    assert "the alert is closed" in renderer.text([closed], "en")
    assert renderer.webhook_fields(alert, "closed", "zh-CN")["notice"] == "closed"
    assert renderer.summary(rectified, "zh-CN").startswith("【已整改】主要地产农产品质量抽检合格率（徐州市）")


def test_a_city_named_in_its_provincial_alert_is_read_there_but_still_reaches_machines_by_id(
        harness: Harness, robots: Receiver) -> None:
    """Issue 19: a city alerting with the province, in one evaluation, is named inside the provincial notice
    rather than notified a second time to the same agency; the webhook still carries it (every firing alert
    reaches its agencies once), marked ``named_in`` the provincial alert."""
    harness.subscribe("agri", robots.url("/dingtalk/robot/send?access_token=tok-agri"), secret=ROBOT_SECRET,
                      channel="dingtalk")
    harness.subscribe("agri", robots.url("/hook"))
    from shared.figures import Contributor
    xuzhou = Contributor(region="320300", points=1.35, numerator=850, denominator=1000, value=0.85)
    province = figure("breach", region="320000").model_copy(update={"contributors": (xuzhou,)})
    harness.apply(province, figure("breach", region="320300"))
    _drain(harness)
    (markdown,) = [h.markdown or "" for h in robots.robot_messages("dingtalk")]
    assert "江苏省" in markdown and "主要影响城市：徐州市" in markdown
    assert "主要地产农产品质量抽检合格率 · 徐州市" not in markdown  # no second block for Xuzhou
    (hook,) = robots.to("/hook")
    by_region = {a["region"]: a for a in hook.json["alerts"]}
    assert set(by_region) == {"320000", "320300"}
    assert by_region["320300"]["named_in"] == by_region["320000"]["alert_id"]
    assert "named_in" not in by_region["320000"]
