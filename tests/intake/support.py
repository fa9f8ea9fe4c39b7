"""Helpers for intake tests: event factories, settings (the fake publisher is tests.support's)."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from shared.settings import Settings
from tests.support import FakePublisher  # noqa: F401 - the intake tests import it from here

ADMIN = "test-admin-token-0123456789"
NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


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
