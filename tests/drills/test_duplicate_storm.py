"""Drill: every event sent three times, in separate and differently composed batches, interleaved."""

from __future__ import annotations

import random

import pytest

from tests.drills.conftest import StackFactory
from tests.drills.support import (
    Chain,
    assert_exact_figures,
    assert_one_notification_per_change,
    assert_single_firing_notice_each,
    batches,
    inspections,
    wait_all_notified,
)
from tests.support import WebhookReceiver

pytestmark = [pytest.mark.drill, pytest.mark.integration, pytest.mark.e2e]


def test_a_duplicate_storm_counts_each_event_once_and_reports_two_duplicates_per_event(
        make_stack: StackFactory, receiver: WebhookReceiver) -> None:
    stack = make_stack()
    chain = Chain.start(stack, receiver.url())
    events = inspections("dup", 1500)
    rnd = random.Random(20261128)
    copies = []
    for _ in range(3):
        shuffled = list(events)
        rnd.shuffle(shuffled)
        copies.append(batches(shuffled, 100))
    # Interleave: copy 1 batch 1, copy 2 batch 1, copy 3 batch 1, copy 1 batch 2, ...
    storm = [batch for round_ in zip(*copies, strict=True) for batch in round_]
    lab = chain.lab()
    for batch in storm:
        lab.post(batch)

    assert lab.acked_ids == {e["event_id"] for e in events}
    assert (lab.accepted, lab.duplicates) == (len(events), 2 * len(events)), (lab.accepted, lab.duplicates)
    assert set(lab.statuses) == {"202"}, lab.statuses
    assert_exact_figures(chain, events)
    notices = assert_one_notification_per_change(stack, wait_all_notified(stack, [receiver]))
    assert_single_firing_notice_each(stack, notices)
