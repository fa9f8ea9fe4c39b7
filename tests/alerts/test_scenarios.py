"""Acceptance scenarios in the manner of Alertmanager's: figures in, webhooks out, time by hand.

Each test runs on SQLite and on PostgreSQL, against a real HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from services.alerts.evaluate import Rule
from services.alerts.models import Alert, AlertAck, AlertTransition, DeliveryAttempt, Silence, Subscription
from tests.alerts.support import SECRET, Harness, Receiver, figure


def test_a_figure_going_bad_sends_one_signed_webhook_exactly_as_the_contract_says(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    harness.apply(figure("breach"))
    assert harness.deliver() == 1
    (request,) = receiver.requests
    assert receiver.verify(request, SECRET, harness.clock.now())
    body = request.json
    (delivery,) = harness.deliveries()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == delivery.delivery_id == body["delivery_id"]
    assert list(body) == ["delivery_id", "agency_id", "status", "alerts", "sent_at"]
    assert (body["agency_id"], body["status"], body["sent_at"]) == ("agri", "firing", "2026-11-20T10:00:00+08:00")
    (alert,) = body["alerts"]
    contract = {"alert_id": alert["alert_id"], "state": "firing", "severity": "critical",
                "indicator": "agri_sampling_pass_rate", "region": "320500", "category": None, "window": "30d",
                "value": 0.951, "ci95": [0.9358, 0.9627], "numerator": 951, "denominator": 1000,
                "target": {"op": ">=", "value": 0.97}, "started_at": "2026-11-20T10:00:00+08:00",
                "resolved_at": None, "acks": []}
    assert {k: alert[k] for k in contract} == contract  # the contract's fields, unchanged
    # ... and what a person reads (issue 16): what happened, names, value with n, interval, target, since, link
    assert alert["notice"] == "started" and alert["locale"] == "zh-CN"
    assert alert["indicator_name"] == "主要地产农产品质量抽检合格率" and alert["region_name"] == "苏州市"
    assert (alert["value_text"], alert["ci95_text"], alert["target_text"]) == ("95.1%", "93.6%–96.3%", "≥ 97.0%")
    assert alert["since"] == "2026-11-20T10:00:00+08:00"
    assert alert["dashboard_url"].endswith("/?indicator=agri_sampling_pass_rate&region=320500&window=30d")
    assert alert["summary"] == "主要地产农产品质量抽检合格率（苏州市）严重：95.1%，目标 ≥ 97.0%"
    # Issue 19: the alert's kind and its rectification loop, beside the contract.
    assert (alert["kind"], alert["rectification"]["stage"]) == ("threshold", "open")
    assert delivery.status == "delivered" and harness.counter("delivered") == 1


def test_a_redelivered_figure_and_later_passes_send_nothing_more(harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    message = harness.message(figure("breach"))
    harness.apply(message)
    again = harness.apply(message, message)
    assert again.duplicates == 2
    harness.advance(60)
    harness.apply(figure("breach"))  # the periodic re-publication of an unchanged figure
    harness.periodic()
    harness.deliver()
    harness.deliver()
    assert len(receiver.requests) == 1


def test_escalation_notifies_once_and_a_fall_is_recorded_without_a_notification(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    for status in ("at_risk", "breach", "at_risk", "breach", "at_risk"):
        harness.apply(figure(status))
        harness.deliver()
        harness.advance(60)
    assert [r.json["alerts"][0]["severity"] for r in receiver.requests] == ["warning", "critical"]
    with harness.rt.sessions() as session:
        history = session.execute(select(AlertTransition.to_state, AlertTransition.to_severity)
                                  .order_by(AlertTransition.transition_id)).all()
    assert [tuple(h) for h in history] == [("firing", "warning"), ("firing", "critical"), ("firing", "warning"),
                                           ("firing", "critical"), ("firing", "warning")]


def test_a_figure_oscillating_around_the_threshold_does_not_flood(
        db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    h = Harness(db_url, tmp_path, rule=Rule(resolve_for_seconds=900))
    try:
        h.subscribe("agri", receiver.url())
        for i in range(30):
            h.apply(figure("at_risk" if i % 2 == 0 else "ok"))
            h.periodic()
            h.deliver()
            h.advance(120)
        assert len(receiver.requests) == 1
        h.apply(figure("ok"))  # now it stays ok long enough
        h.advance(900)
        h.periodic()
        h.deliver()
        assert [r.json["status"] for r in receiver.requests] == ["firing", "resolved"]
    finally:
        h.close()


def test_a_resolved_alert_sends_one_resolve_notice(harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    harness.apply(figure("breach"))
    harness.deliver()
    harness.advance(3600)
    harness.apply(figure("ok"))
    harness.deliver()
    harness.advance(60)
    harness.apply(figure("ok"))
    harness.periodic()
    harness.deliver()
    assert len(receiver.requests) == 2
    resolved = receiver.requests[1].json
    assert resolved["status"] == "resolved"
    (alert,) = resolved["alerts"]
    assert (alert["state"], alert["resolved_at"], alert["started_at"]) == (
        "resolved", "2026-11-20T11:00:00+08:00", "2026-11-20T10:00:00+08:00")


def test_a_reminder_comes_after_the_repeat_interval_and_not_before(harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    harness.apply(figure("at_risk"))
    harness.deliver()
    for _ in range(23):
        harness.advance(3600)
        harness.periodic()
        harness.deliver()
    harness.advance(3599)
    harness.periodic()
    harness.deliver()
    assert len(receiver.requests) == 1
    harness.advance(1)
    harness.periodic()
    harness.periodic()
    harness.deliver()
    assert len(receiver.requests) == 2
    assert receiver.requests[1].json["alerts"][0]["state"] == "firing"
    assert receiver.requests[1].json["delivery_id"] != receiver.requests[0].json["delivery_id"]


def test_a_silenced_alert_is_recorded_not_delivered_and_notifies_when_the_silence_ends(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    now = harness.clock.now()
    with harness.rt.service.write() as session:
        session.add(Silence(silence_id="s1", indicator="agri_sampling_pass_rate", region="320000", category=None,
                            starts_at=now, ends_at=now + dt.timedelta(hours=2), reason="known outage",
                            created_at=now))
    harness.apply(figure("breach", region="320581"))
    for _ in range(5):
        harness.periodic()
        harness.deliver()
        harness.advance(60)
    assert receiver.requests == []
    assert [d.status for d in harness.deliveries()] == ["silenced"]
    assert harness.counter("silenced") == 1
    harness.advance(2 * 3600)
    harness.periodic()
    harness.deliver()
    assert [r.json["status"] for r in receiver.requests] == ["firing"]


def test_an_acknowledged_alert_gets_no_reminder_but_its_resolve_still_notifies(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    harness.apply(figure("breach"))
    harness.deliver()
    with harness.rt.service.write() as session:
        (row,) = session.scalars(select(Alert)).all()
        harness.rt.service.acknowledge(session, row, by="agency:agri", agency_id="agri", comment="on it",
                                         now=harness.clock.now())
    harness.advance(25 * 3600)
    harness.periodic()
    harness.deliver()
    assert len(receiver.requests) == 1
    harness.apply(figure("ok"))
    harness.deliver()
    assert [r.json["status"] for r in receiver.requests] == ["firing", "resolved"]


def test_one_agencys_ack_stops_only_its_own_reminders_and_every_ack_is_kept_and_sent(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url("/agri"))
    harness.subscribe("city-3205", receiver.url("/city"))
    harness.apply(figure("breach"))
    harness.deliver()
    with harness.rt.service.write() as session:
        (row,) = session.scalars(select(Alert)).all()
        harness.rt.service.acknowledge(session, row, by="agency:agri", agency_id="agri", comment="on it",
                                       now=harness.clock.now())
    harness.advance(25 * 3600)
    harness.periodic()
    harness.deliver()
    assert (len(receiver.to("/agri")), len(receiver.to("/city"))) == (1, 2)  # the city is still reminded
    (alert,) = receiver.to("/city")[-1].json["alerts"]
    assert [(a["agency_id"], a["by"], a["comment"]) for a in alert["acks"]] == [("agri", "agency:agri", "on it")]
    with harness.rt.service.write() as session:
        (row,) = session.scalars(select(Alert)).all()
        harness.rt.service.acknowledge(session, row, by="agency:city-3205", agency_id="city-3205", comment="seen",
                                       now=harness.clock.now())
    harness.advance(25 * 3600)
    harness.periodic()
    harness.deliver()
    assert (len(receiver.to("/agri")), len(receiver.to("/city"))) == (1, 2)
    with harness.rt.service.sessions() as session:
        history = session.scalars(select(AlertAck).order_by(AlertAck.ack_id)).all()
    assert [(a.agency_id, a.comment) for a in history] == [("agri", "on it"), ("city-3205", "seen")]


def test_a_failing_receiver_gets_the_same_delivery_with_growing_backoff_until_it_answers(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    receiver.status = 500
    harness.apply(figure("breach"))
    attempt_times = []
    for _ in range(4):
        (delivery,) = harness.deliveries()
        harness.clock.set(delivery.next_attempt_at)
        assert harness.deliver() == 1
        assert harness.deliver() == 0  # not due again yet
        attempt_times.append(harness.clock.now())
    receiver.status = 204
    (delivery,) = harness.deliveries()
    harness.clock.set(delivery.next_attempt_at)
    harness.deliver()
    harness.advance(3600)
    harness.deliver()
    gaps = [(b - a).total_seconds() for a, b in zip(attempt_times, attempt_times[1:], strict=False)]
    assert gaps == [5.0, 10.0, 20.0]
    assert len(receiver.requests) == 5
    assert {r.headers["idempotency-key"] for r in receiver.requests} == {delivery.delivery_id}
    assert len({r.body for r in receiver.requests}) == 1
    assert len({r.headers["x-qw-signature"] for r in receiver.requests}) == 5  # a fresh t per attempt
    (done,) = harness.deliveries()
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 5, 204)
    with harness.rt.sessions() as session:
        codes = session.scalars(select(DeliveryAttempt.status_code).order_by(DeliveryAttempt.attempt)).all()
    assert codes == [500, 500, 500, 500, 204]
    assert (harness.counter("retrying"), harness.counter("delivered")) == (4, 1)


def test_an_unreachable_receiver_is_retried_and_the_error_recorded(harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    receiver.stop()
    harness.apply(figure("breach"))
    harness.deliver()
    (delivery,) = harness.deliveries()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code is None
    assert "ConnectError" in (delivery.last_error or "")


def test_a_delivery_that_never_succeeds_is_retried_for_over_24_hours_then_given_up(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    receiver.status = 503
    harness.apply(figure("breach"))
    created = harness.clock.now()
    for _ in range(200):
        (delivery,) = harness.deliveries()
        if delivery.status != "pending":
            break
        harness.clock.set(delivery.next_attempt_at)
        harness.deliver()
    assert delivery.status == "gave_up"
    assert (delivery.last_attempt_at - created) >= dt.timedelta(hours=48)
    assert harness.counter("gave_up") == 1


def test_pending_retries_survive_a_restart(db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    first = Harness(db_url, tmp_path)
    first.subscribe("agri", receiver.url())
    receiver.status = 500
    first.apply(figure("breach"))
    first.deliver()
    (pending,) = first.deliveries()
    first.close()
    receiver.status = 200
    second = Harness(db_url, tmp_path)
    try:
        second.clock.set(pending.next_attempt_at)
        assert second.deliver() == 1
        (done,) = second.deliveries()
        assert (done.delivery_id, done.status, done.attempts) == (pending.delivery_id, "delivered", 2)
        assert [r.headers["idempotency-key"] for r in receiver.requests] == [pending.delivery_id] * 2
    finally:
        second.close()


def test_a_county_figure_reaches_the_city_government_and_every_plan_agency(
        harness: Harness, receiver: Receiver) -> None:
    for agency in ("agri", "food-drug", "market-supervision", "city-3205", "transport", "city-3201"):
        harness.subscribe(agency, receiver.url(f"/{agency}"))
    harness.subscribe("agri", receiver.url("/agri-critical"), min_severity="critical")
    harness.apply(figure("at_risk", region="320581"))
    harness.deliver()
    assert sorted(r.path for r in receiver.requests) == ["/agri", "/city-3205", "/food-drug", "/market-supervision"]
    assert all(r.json["agency_id"] == r.path[1:] for r in receiver.requests)
    receiver.requests.clear()
    harness.advance(60)
    harness.apply(figure("breach", region="320581"))
    harness.deliver()
    assert "/agri-critical" in [r.path for r in receiver.requests]


def test_a_resolve_goes_only_to_subscriptions_that_heard_it_fire(harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url("/warn"))
    harness.subscribe("agri", receiver.url("/crit"), min_severity="critical")
    harness.apply(figure("at_risk"))
    harness.deliver()
    harness.advance(60)
    harness.apply(figure("ok"))
    harness.deliver()
    assert [(r.path, r.json["status"]) for r in receiver.requests] == [("/warn", "firing"), ("/warn", "resolved")]


def test_alerts_changing_in_one_pass_travel_to_a_subscription_in_one_payload(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url())
    harness.apply(figure("breach", window="30d"), figure("at_risk", window="90d"), figure("ok", window="7d"))
    harness.deliver()
    (request,) = receiver.requests
    assert sorted((a["window"], a["severity"]) for a in request.json["alerts"]) == [
        ("30d", "critical"), ("90d", "warning")]


def test_a_deleted_subscription_stops_its_pending_retries(harness: Harness, receiver: Receiver) -> None:
    subscription_id = harness.subscribe("agri", receiver.url())
    receiver.status = 500
    harness.apply(figure("breach"))
    harness.deliver()
    with harness.rt.service.write() as session:
        session.get(Subscription, subscription_id).deleted_at = harness.clock.now()  # type: ignore[union-attr]
    harness.advance(3600)
    harness.deliver()
    (delivery,) = harness.deliveries()
    assert (delivery.status, delivery.last_error) == ("failed", "subscription deleted")
    assert len(receiver.requests) == 1


def test_the_firing_gauge_counts_alerts_by_severity(harness: Harness) -> None:
    harness.apply(figure("breach", window="30d"), figure("at_risk", window="90d"), figure("at_risk", region="320100"))
    value = harness.registry.get_sample_value
    assert value("qw_alerts_firing", {"severity": "critical"}) == 1
    assert value("qw_alerts_firing", {"severity": "warning"}) == 2


def test_two_instances_never_send_the_same_delivery(pg_url: str, tmp_path: Path, receiver: Receiver) -> None:
    import threading

    first, second = Harness(pg_url, tmp_path), Harness(pg_url, tmp_path)
    try:
        first.subscribe("agri", receiver.url())
        first.subscribe("city-3205", receiver.url("/city"))
        first.apply(figure("breach"))
        second.clock.set(first.clock.now())
        barrier = threading.Barrier(2)

        def run(h: Harness) -> None:
            barrier.wait()
            h.deliver()

        threads = [threading.Thread(target=run, args=(h,)) for h in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(r.path for r in receiver.requests) == ["/city", "/hook"]
        assert {d.status for d in first.deliveries()} == {"delivered"}
    finally:
        first.close()
        second.close()


def test_an_agency_subscribing_while_an_alert_fires_hears_of_it_at_once_and_of_its_resolve(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url("/early"))
    harness.apply(figure("breach"))
    harness.deliver()
    harness.advance(600)
    harness.subscribe("agri", receiver.url("/late"))
    harness.deliver()
    assert [(r.path, r.json["status"]) for r in receiver.requests] == [("/early", "firing"), ("/late", "firing")]
    late = receiver.requests[-1]
    assert receiver.verify(late, SECRET, harness.clock.now())
    ((alert,),) = [r.json["alerts"] for r in receiver.to("/late")]
    assert (alert["state"], alert["severity"], alert["started_at"]) == (
        "firing", "critical", "2026-11-20T10:00:00+08:00")
    harness.periodic()
    assert harness.deliver() == 0, "the alert's own notification state is unchanged: no reminder, no repeat"
    harness.advance(60)
    harness.apply(figure("ok"))
    harness.deliver()
    assert sorted((r.path, r.json["status"]) for r in receiver.requests[2:]) == [("/early", "resolved"),
                                                                                  ("/late", "resolved")]


def test_a_late_subscription_hears_only_of_alerts_it_would_have_been_sent(
        harness: Harness, receiver: Receiver) -> None:
    harness.subscribe("agri", receiver.url("/early"))
    harness.apply(figure("at_risk"), figure("breach", region="320200"))
    now = harness.clock.now()
    with harness.rt.service.write() as session:
        session.add(Silence(silence_id="s1", indicator="agri_sampling_pass_rate", region="320200", category=None,
                            starts_at=now, ends_at=now + dt.timedelta(hours=2), reason="known outage",
                            created_at=now))
    harness.deliver()
    early = len(receiver.requests)
    harness.subscribe("agri", receiver.url("/critical-only"), min_severity="critical")  # at_risk is a warning
    harness.subscribe("transport", receiver.url("/other-agency"))
    harness.deliver()
    assert receiver.requests[early:] == [], "warning below the minimum, the breach silenced, another agency's"
    harness.subscribe("agri", receiver.url("/warnings"))
    harness.deliver()
    ((alert,),) = [r.json["alerts"] for r in receiver.to("/warnings")]
    assert (alert["region"], alert["severity"]) == ("320500", "warning")


def test_a_webhook_goes_to_the_address_its_host_resolved_to_with_the_original_host_header(
        db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    answers = {"hooks.agri.test": ["127.0.0.1"]}  # a DNS that the test controls
    harness = Harness(db_url, tmp_path, resolver=lambda host, port: answers[host])
    try:
        harness.subscribe("agri", receiver.url().replace("127.0.0.1", "hooks.agri.test"))
        harness.apply(figure("breach"))
        assert harness.deliver() == 1
        (request,) = receiver.requests
        assert request.headers["host"] == f"hooks.agri.test:{receiver.port}"
        assert receiver.verify(request, SECRET, harness.clock.now())
        answers["hooks.agri.test"] = []  # the name stops resolving: the next delivery waits and retries
        harness.advance(60)
        harness.apply(figure("ok"))
        harness.deliver()
        (retrying,) = harness.deliveries("pending")
        assert retrying.last_error == "url policy: host 'hooks.agri.test' does not resolve"
    finally:
        harness.close()
