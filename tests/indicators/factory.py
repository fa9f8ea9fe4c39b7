"""Events and Kafka messages for indicator tests, in the format intake publishes."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from services.indicators.decode import Message
from shared.events import canonical_json, parse_event, subject_key

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=CST)
_offsets = itertools.count()


def inspection(event_id: str, sample_id: str, verdict: str = "pass", *, revision: int = 1,
               region: str = "320500", category: str = "vegetables", programme: str = "agri-routine-monitoring",
               at: dt.datetime = NOW - dt.timedelta(hours=1)) -> dict[str, Any]:
    return {"event_id": event_id, "type": "inspection.completed", "occurred_at": at.isoformat(), "lab_id": "LAB-0001",
            "data": {"sample_id": sample_id, "programme": programme, "category": category, "region": region,
                     "verdict": verdict, "revision": revision}}


def sample(event_id: str, sample_id: str, *, region: str = "320500", category: str = "vegetables",
           programme: str = "agri-routine-monitoring", at: dt.datetime = NOW - dt.timedelta(days=2)) -> dict[str, Any]:
    return {"event_id": event_id, "type": "sample.collected", "occurred_at": at.isoformat(), "lab_id": "LAB-0001",
            "data": {"sample_id": sample_id, "programme": programme, "category": category, "region": region}}


def acceptance(event_id: str, project_id: str, first_time_pass: bool, *, size: str = "large", revision: int = 1,
               region: str = "320100", at: dt.datetime = NOW - dt.timedelta(days=1)) -> dict[str, Any]:
    return {"event_id": event_id, "type": "acceptance.completed", "occurred_at": at.isoformat(), "lab_id": "LAB-0001",
            "data": {"project_id": project_id, "size": size, "region": region, "first_time_pass": first_time_pass,
                     "revision": revision}}


def survey(event_id: str, score: float, respondents: int, *, sector: str = "producer_services",
           region: str = "320200", at: dt.datetime = NOW - dt.timedelta(days=1)) -> dict[str, Any]:
    return {"event_id": event_id, "type": "survey.scored", "occurred_at": at.isoformat(), "lab_id": "LAB-0001",
            "data": {"sector": sector, "region": region, "score": score, "respondents": respondents}}


def milestone(event_id: str, indicator: str, count: int, *, region: str = "320000",
              at: dt.datetime = NOW - dt.timedelta(days=1)) -> dict[str, Any]:
    return {"event_id": event_id, "type": "milestone.reported", "occurred_at": at.isoformat(), "lab_id": "LAB-0001",
            "data": {"indicator": indicator, "region": region, "count": count}}


def reported(event_id: str, indicator: str, region: str, period: str, *, at: dt.datetime = NOW - dt.timedelta(days=1),
             **figure: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": "figure.reported", "occurred_at": at.isoformat(), "lab_id": "LAB-0001",
            "data": {"indicator": indicator, "region": region, "period": period, **figure}}


def encode(obj: dict[str, Any], received_at: dt.datetime | None = None) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers exactly as intake publishes them."""
    event = parse_event(obj)
    received = (received_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat().encode()
    return (subject_key(event).encode(), canonical_json(event),
            [("qw-content-hash", event.content_hash().encode()), ("qw-received-at", received)])


def message(obj: dict[str, Any] | bytes, *, topic: str = "qw.events", partition: int = 0) -> Message:
    if isinstance(obj, bytes):
        return Message(topic, partition, next(_offsets), b"k", obj, ())
    key, value, headers = encode(obj)
    return Message(topic, partition, next(_offsets), key, value, tuple(headers))
