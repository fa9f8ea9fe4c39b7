"""Indicators enforces ownership and per-sender ids itself (two intake instances, or records published before
intake knew the owner), and keeps each event's outcome for its sender's status look-up."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.indicators import outcomes
from services.indicators.decode import Message
from services.indicators.models import AppliedEvent, DeadLetter
from shared.auth import Authenticator, create_key
from shared.db import transaction
from tests.indicators import factory as f
from tests.indicators.conftest import Harness

pytestmark = pytest.mark.integration


def sent_by(sender: str, message: Message) -> Message:
    return dataclasses.replace(message, headers=(*message.headers, ("qw-sender", sender.encode())))


def province(h: Harness) -> tuple[float | None, float | None]:
    spec = h.catalogue.indicator("agri_sampling_pass_rate")
    assert spec is not None
    figure = h.reader.figure(spec, "320000", None, "30d")
    return figure.numerator, figure.denominator


def test_another_senders_revision_is_dead_lettered_not_owner_and_never_applied(harness: Harness) -> None:
    harness.processor.process([sent_by("lab:A", f.message(f.inspection("a-1", "S1", "pass")))])
    before = province(harness)
    attack = sent_by("lab:B", f.message(f.inspection("b-1", "S1", "fail", revision=999_999, region="320300")))
    result = harness.processor.process([attack])
    assert [(d.reason, d.event_id, d.sender) for d in result.dead_letters] == [("not_owner", "b-1", "lab:B")]
    assert province(harness) == before == (1, 1)
    assert harness.metric("qw_indicators_dead_letters_total", reason="not_owner") == 1
    with harness.sessions() as session:
        assert session.scalar(select(DeadLetter.sender).where(DeadLetter.event_id == "b-1")) == "lab:B"
        assert session.scalar(select(AppliedEvent.event_id).where(AppliedEvent.sender == "lab:B")) is None
    # The owner may revise, an operator may correct.
    harness.processor.process([sent_by("lab:A", f.message(f.inspection("a-2", "S1", "fail", revision=2)))])
    assert province(harness) == (0, 1)
    harness.processor.process([sent_by("operator", f.message(f.inspection("op-1", "S1", "pass", revision=3)))])
    assert province(harness) == (1, 1)


def test_first_sender_in_one_batch_owns_the_subject(harness: Harness) -> None:
    result = harness.processor.process([sent_by("lab:A", f.message(f.inspection("a-1", "S1", "pass"))),
                                        sent_by("lab:B", f.message(f.inspection("b-1", "S1", "fail", revision=2)))])
    assert [d.reason for d in result.dead_letters] == ["not_owner"]
    assert province(harness) == (1, 1)


def test_the_same_event_id_from_two_senders_is_two_events(harness: Harness) -> None:
    result = harness.processor.process([sent_by("lab:A", f.message(f.inspection("same", "SA", "pass"))),
                                        sent_by("lab:B", f.message(f.inspection("same", "SB", "pass")))])
    assert result.dead_letters == [] and result.duplicates == 0
    assert province(harness) == (2, 2)


def test_outcomes_are_kept_and_answered_to_their_sender_only(harness: Harness) -> None:
    harness.processor.process([sent_by("lab:A", f.message(f.inspection("r2", "S1", "fail", revision=2))),
                               sent_by("lab:A", f.message(f.inspection("r1", "S1", "pass", revision=1))),
                               sent_by("lab:B", f.message(f.inspection("b1", "S1", "pass", revision=5)))])
    app = FastAPI()
    app.include_router(outcomes.router)
    app.state.sessions = harness.sessions
    app.state.authenticator = Authenticator(harness.sessions, None)
    with transaction(harness.sessions) as session:
        _, lab_a = create_key(session, role="lab", lab_id="A")
        _, lab_b = create_key(session, role="lab", lab_id="B")
    with TestClient(app) as client:
        def outcome(token: str, event_id: str) -> tuple[int, dict]:
            answer = client.get("/v1/event-outcomes", params={"event_id": event_id},
                                headers={"Authorization": f"Bearer {token}"})
            return answer.status_code, answer.json()

        assert outcome(lab_a, "r2") == (200, {"event_id": "r2", "outcome": "applied", "standing_revision": None,
                                              "reason": None, "error": None})
        assert outcome(lab_a, "r1")[1]["outcome"] == "ignored" and outcome(lab_a, "r1")[1]["standing_revision"] == 2
        status, body = outcome(lab_b, "b1")
        assert (status, body["outcome"], body["reason"]) == (200, "dead_lettered", "not_owner")
        assert outcome(lab_b, "r2")[0] == 404  # A's event: as unknown
