"""Intake takes ``inspection.objected`` and ``follow_up_of`` like other lab events (issue 19)."""

from __future__ import annotations

import orjson

from tests.intake.support import auth, inspection


def test_an_objection_is_accepted_and_keyed_like_its_sample(client, lab_key, publisher) -> None:  # noqa: ANN001
    event = {"event_id": "lab0001-obj-1", "type": "inspection.objected", "occurred_at": "2026-11-28T09:20:00+08:00",
             "lab_id": "LAB-0001", "data": {"sample_id": "S-9", "programme": "agri-routine-monitoring",
                                            "category": "vegetables", "region": "320500", "reason": "申请复检"}}
    response = client.post("/v1/events", json=event, headers=auth(lab_key))
    assert response.status_code == 202, response.text
    [(_, message)] = publisher.published
    assert message.key == b"sample:S-9"  # same partition as the sample's results: applied in order


def test_follow_up_of_must_name_an_alert_id(client, lab_key, publisher) -> None:  # noqa: ANN001
    good = inspection("lab0001-fu-1", follow_up_of="0123456789abcdef")
    assert client.post("/v1/events", json=good, headers=auth(lab_key)).status_code == 202
    assert orjson.loads(publisher.published[0][1].value)["data"]["follow_up_of"] == "0123456789abcdef"
    bad = client.post("/v1/events", json=inspection("lab0001-fu-2", follow_up_of="Xuzhou"), headers=auth(lab_key))
    assert bad.status_code == 422 and "follow_up_of" in bad.text


def test_an_objection_from_another_lab_is_refused(client, lab_key, publisher) -> None:  # noqa: ANN001
    event = {"event_id": "lab0002-obj-1", "type": "inspection.objected", "occurred_at": "2026-11-28T09:20:00+08:00",
             "lab_id": "LAB-0002", "data": {"sample_id": "S-9", "programme": "agri-routine-monitoring",
                                            "category": "vegetables", "region": "320500"}}
    assert client.post("/v1/events", json=event, headers=auth(lab_key)).status_code == 403
    assert publisher.published == []
