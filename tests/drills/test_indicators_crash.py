"""Drills on the indicators service: SIGKILL while a backlog is applied; a second instance joins
the consumer group and the first leaves. ``applied_event`` and offsets committed after the
database transaction keep every count exact."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

from tests.drills.conftest import StackFactory
from tests.drills.support import (
    Chain,
    Feeder,
    FigureWatch,
    assert_ends_exact,
    assert_exact_figures,
    assert_lab_accounting,
    assert_one_notification_per_change,
    assert_single_firing_notice_each,
    batches,
    inspections,
    metric_total,
    wait_all_notified,
    wait_for,
)
from tests.support import WebhookReceiver

pytestmark = [pytest.mark.drill, pytest.mark.integration, pytest.mark.e2e]


def test_indicators_killed_while_applying_a_backlog_counts_every_event_once(
        make_stack: StackFactory, receiver: WebhookReceiver) -> None:
    # Large polls make each batch transaction long enough to be cut in the middle.
    stack = make_stack(QW_CONSUMER_MAX_RECORDS="5000")
    chain = Chain.start(stack, receiver.url())
    stack.stop("indicators")
    events = inspections("kil", 30_000)
    lab = chain.lab()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lab.post, batches(events, 1000)))
    assert_lab_accounting(lab, events)

    watch = FigureWatch(chain, interval=0.1)
    stack.start("indicators")
    watch.start()
    wait_for(lambda: watch.max_denominator > 0, timeout=30, what="the backlog to start being applied")
    stack.stop("indicators", kill=True)
    at_kill = watch.max_denominator
    assert 0 < at_kill < len(events), f"the kill came too late to interrupt anything ({at_kill} applied)"
    stack.start("indicators")

    assert_exact_figures(chain, events, watch=watch, timeout=120)
    notices = assert_one_notification_per_change(stack, wait_all_notified(stack, [receiver]))
    assert_single_firing_notice_each(stack, notices)


def test_a_second_indicators_instance_joining_and_the_first_leaving_keeps_totals_exact(
        make_stack: StackFactory, receiver: WebhookReceiver, tmp_path: Path) -> None:
    stack = make_stack()
    chain = Chain.start(stack, receiver.url())
    # Same broker, database, topic prefix and consumer group; its own port and log.
    second = make_stack(data_dir=tmp_path / "second")
    events = inspections("grp", 6000)
    lab = chain.lab()
    watch = FigureWatch(chain).start()
    feeder = Feeder(lab, batches(events, 100), pause=0.1).start()

    wait_for(lambda: feeder.done_batches >= 10, timeout=30, what="the first batches to be accepted")
    second.start("indicators")
    done = feeder.done_batches
    wait_for(lambda: feeder.done_batches >= done + 10, timeout=60, what="batches while both instances consume")
    applied = "qw_indicators_events_applied_total"
    wait_for(lambda: metric_total(second.url("indicators"), applied) > 0, timeout=30,
             what="the second instance to be given partitions and apply events")
    first_applied = wait_for(lambda: metric_total(stack.url("indicators"), applied), timeout=30,
                             what="the first instance to have applied events too")
    stack.stop("indicators")
    chain.indicators_url = lambda: second.url("indicators")
    feeder.join(timeout=120)

    assert_lab_accounting(lab, events)
    assert_ends_exact(chain, stack, events, watch=watch, receiver=receiver)
    # Shared work: the first applied some before leaving, the second applied the rest, none twice.
    second_applied = metric_total(second.url("indicators"), applied)
    assert 0 < second_applied < len(events) and first_applied + second_applied <= len(events)
