"""Helpers for intake tests: a recording publisher fake, event factories, settings."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.intake.publisher import Delivery, OutgoingMessage, PublishUnavailable
from shared.settings import Settings

ADMIN = "test-admin-token-0123456789"
NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


class FakePublisher:
    """Keeps what it was asked to publish; ``down = True`` makes it fail like a dead broker."""

    def __init__(self) -> None:
        self.published: list[tuple[str, OutgoingMessage]] = []
        self.down = False
        self.closed = False

    def publish(self, topic: str, messages: Sequence[OutgoingMessage], *, timeout: float) -> list[Delivery]:
        if self.down:
            raise PublishUnavailable("fake broker is down")
        start = len(self.published)
        self.published.extend((topic, m) for m in messages)
        return [Delivery(0, start + i) for i in range(len(messages))]

    def ping(self) -> None:
        if self.down:
            raise ConnectionError("fake broker is down")

    def close(self) -> None:
        self.closed = True


def settings_for(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path, "database_url": db_url, "admin_token": ADMIN,
                              "kafka_bootstrap": "127.0.0.1:1", "publish_timeout_seconds": 5.0}
    values.update(overrides)
    return Settings(**values)


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_id(prefix: str = "ev") -> str:
    return f"{prefix}-{next(_ids):06d}"


def inspection(event_id: str | None = None, *, lab_id: str = "LAB-0001", verdict: str = "pass",
               occurred_at: str = "2026-11-28T09:15:00+08:00", **data: Any) -> dict[str, Any]:
    body = {"sample_id": f"S-{event_id or 'x'}", "programme": "agri-routine-monitoring",
            "category": "vegetables", "region": "320500", "verdict": verdict}
    body.update(data)
    return {"event_id": event_id or new_id(), "type": "inspection.completed", "occurred_at": occurred_at,
            "lab_id": lab_id, "data": body}


def figure(event_id: str | None = None, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"indicator": "green_building_share", "region": "320000", "period": "2026-11",
                            "numerator": 40, "denominator": 100}
    body.update(data)
    return {"event_id": event_id or new_id(), "type": "figure.reported", "occurred_at": "2026-11-28T09:00:00+08:00",
            "lab_id": "LAB-0001", "data": body}


def survey(event_id: str | None = None, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"sector": "consumer_services", "region": "320100", "score": 81.5, "respondents": 400}
    body.update(data)
    return {"event_id": event_id or new_id(), "type": "survey.scored", "occurred_at": "2026-11-28T09:00:00+08:00",
            "lab_id": "LAB-0001", "data": body}


def with_changes(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy with ``a.b.c`` set to value (or removed when value is ``REMOVE``)."""
    event = copy.deepcopy(event)
    *parents, last = path.split(".")
    node = event
    for part in parents:
        node = node[part]
    if value is REMOVE:
        del node[last]
    else:
        node[last] = value
    return event


REMOVE = object()
