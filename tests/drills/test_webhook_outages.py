"""Drills on webhook delivery: the agency's receiver down for a while; the alert service restarted
while a delivery is being retried. Each delivery_id is acknowledged exactly once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.drills.conftest import StackFactory
from tests.drills.support import (
    SECRET,
    Chain,
    assert_exact_figures,
    assert_one_notification_per_change,
    assert_single_firing_notice_each,
    deliveries,
    inspections,
    wait_all_notified,
    wait_for,
)
from tests.support import WebhookReceiver

pytestmark = [pytest.mark.drill, pytest.mark.integration, pytest.mark.e2e]


def _retrying(stack, attempts: int = 2) -> list[dict] | None:  # noqa: ANN001
    pending = deliveries(stack, "pending")
    return pending if pending and all(d["attempts"] >= attempts for d in pending) else None


def test_a_receiver_down_for_a_while_gets_each_delivery_once_when_it_is_back(
        make_stack: StackFactory, receiver: WebhookReceiver) -> None:
    stack = make_stack()
    chain = Chain.start(stack, receiver.url())
    port = int(receiver.url().split(":")[2].split("/")[0])
    receiver.stop()  # connection refused from now on
    events = inspections("hko", 200)
    chain.lab().post(events)
    assert_exact_figures(chain, events, settle=0)

    # Let the outage last through several failed attempts of every delivery.
    pending = wait_for(lambda: _retrying(stack), timeout=30, what="deliveries failing and being retried")
    waiting = {d["delivery_id"] for d in pending}
    back = WebhookReceiver(secret=SECRET, port=port).start()
    try:
        hooks = wait_all_notified(stack, [back])
        received = Counter(h.json["delivery_id"] for h in hooks)
        assert waiting <= set(received), "a delivery retried during the outage kept its delivery_id"
        notices = assert_one_notification_per_change(stack, hooks)
        assert_single_firing_notice_each(stack, notices)
        assert all(d["status"] == "delivered" for d in deliveries(stack))
        assert not receiver.snapshot(), "nothing reached the receiver while it was down"
    finally:
        back.stop()


def test_a_pending_retry_survives_an_alert_service_restart_with_the_same_delivery_id(
        make_stack: StackFactory, receiver: WebhookReceiver) -> None:
    stack = make_stack()
    chain = Chain.start(stack, receiver.url())
    receiver.status = 500
    events = inspections("hrs", 200)
    chain.lab().post(events)
    assert_exact_figures(chain, events, settle=0)
    pending = wait_for(lambda: _retrying(stack), timeout=30, what="deliveries answered 500 and being retried")
    waiting = {d["delivery_id"] for d in pending}

    stack.stop("alerts")
    refused = len(receiver.snapshot())  # every one of these was answered 500
    assert refused >= 2 * len(waiting)
    assert {h.json["delivery_id"] for h in receiver.snapshot()} == waiting
    receiver.status = 200
    time.sleep(1)  # the receiver is healthy before the service comes back
    assert len(receiver.snapshot()) == refused
    stack.start("alerts")

    hooks = wait_all_notified(stack, [receiver], skip=refused)
    assert {h.json["delivery_id"] for h in hooks} >= waiting, "the pending deliveries kept their ids"
    notices = assert_one_notification_per_change(stack, hooks)
    assert_single_firing_notice_each(stack, notices)
    for delivery in deliveries(stack):
        assert delivery["status"] == "delivered" and delivery["last_status_code"] == 200, delivery
