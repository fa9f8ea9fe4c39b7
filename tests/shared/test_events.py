import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from shared.catalogue import load_catalogue
from shared.events import EventContext, canonical_json, error_path, parse_event, subject_key
from shared.settings import DEFAULT_CATALOGUE

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
CONTEXT = EventContext(load_catalogue(DEFAULT_CATALOGUE), NOW)


def inspection(**data: Any) -> dict[str, Any]:
    base = {"sample_id": "S-1", "programme": "agri-routine-monitoring", "category": "vegetables",
            "region": "320583", "verdict": "pass"}
    base.update(data)
    return {"event_id": "lab0001-2026-000123", "type": "inspection.completed",
            "occurred_at": "2026-11-27T10:15:00+08:00", "lab_id": "LAB-0001", "data": base}


def problems(obj: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_event(obj, context=CONTEXT)
    return {error_path(e["loc"]): e["msg"] for e in caught.value.errors()}


def test_a_valid_inspection_parses_with_default_revision() -> None:
    event = parse_event(inspection(), context=CONTEXT)
    assert event.data.revision == 1
    assert subject_key(event) == "sample:S-1"


def test_equal_content_gives_equal_canonical_bytes_whatever_the_key_order() -> None:
    a = parse_event(inspection(), context=CONTEXT)
    shuffled = dict(reversed(list(inspection().items())))
    b = parse_event(shuffled, context=CONTEXT)
    assert canonical_json(a) == canonical_json(b)
    assert a.content_hash() == b.content_hash()


def test_unknown_programme_and_category_are_named() -> None:
    assert "unknown programme 'x'" in problems(inspection(programme="x"))["$.data"]
    assert "has no category 'shoes'" in problems(inspection(category="shoes"))["$.data"]


def test_region_outside_jiangsu_is_rejected_with_its_path() -> None:
    assert "is not a region" in problems(inspection(region="330100"))["$.data.region"]


def test_naive_future_and_ancient_timestamps_are_rejected() -> None:
    naive = inspection()
    naive["occurred_at"] = "2026-11-27T10:15:00"
    assert "timezone" in problems(naive)["$.occurred_at"]
    future = inspection()
    future["occurred_at"] = (NOW + dt.timedelta(minutes=6)).isoformat()
    assert "future" in problems(future)["$.occurred_at"]
    ancient = inspection()
    ancient["occurred_at"] = (NOW - dt.timedelta(days=401)).isoformat()
    assert "grace period" in problems(ancient)["$.occurred_at"]


def test_figure_with_numerator_above_denominator_is_rejected() -> None:
    event = {"event_id": "f-1", "type": "figure.reported", "occurred_at": "2026-11-27T10:15:00+08:00",
             "lab_id": "LAB-0001", "data": {"indicator": "metrology_coverage", "region": "320000",
                                            "period": "2026-11", "numerator": 11, "denominator": 10}}
    assert "must not exceed" in problems(event)["$.data"]


def test_survey_score_must_be_a_number_within_0_and_100() -> None:
    event = {"event_id": "s-1", "type": "survey.scored", "occurred_at": "2026-11-27T10:15:00+08:00",
             "lab_id": "LAB-0001", "data": {"sector": "producer_services", "region": "320100",
                                            "score": 101, "respondents": 10}}
    assert "$.data.score" in problems(event)
    event["data"]["score"] = True
    assert "$.data.score" in problems(event)
