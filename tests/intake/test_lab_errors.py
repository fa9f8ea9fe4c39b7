"""Answers a lab clerk can act on (issue 18 item 7): valid values listed, the event named, the right endpoint
pointed to, and how to correct a result."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.intake.support import ADMIN, FakePublisher, auth, inspection, with_changes


def test_a_chinese_category_gets_the_list_of_codes_with_names(client: TestClient) -> None:
    event = with_changes(inspection("lab-err-1"), "data.category", "蔬菜")
    answer = client.post("/v1/events/batch", json={"events": [inspection("lab-err-0"), event]}, headers=auth(ADMIN))
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["index"] == 1 and error["event_id"] == "lab-err-1" and error["sample_id"] == "S-lab-err-1"
    assert error["path"] == "$.data.category"
    assert "send the code 'vegetables'" in error["message"]
    assert {"code": "vegetables", "name": "蔬菜"} in error["valid"]
    assert "vegetables (蔬菜)" in error["message_zh"]


def test_any_wrong_enumerated_value_lists_the_valid_ones(client: TestClient) -> None:
    event = with_changes(with_changes(inspection("lab-err-2"), "data.programme", 42), "data.verdict", "不合格品")
    [programme, verdict] = client.post("/v1/events", json=event, headers=auth(ADMIN)).json()["errors"]
    assert programme["path"] == "$.data.programme"
    assert "agri-routine-monitoring (主要地产农产品质量例行监测)" in programme["message"]
    assert verdict["valid"] == [{"code": "pass", "name": "合格"}, {"code": "fail", "name": "不合格"}]


def test_a_batch_body_at_the_single_endpoint_points_to_batch(client: TestClient, publisher: FakePublisher) -> None:
    for body in ({"events": [inspection("lab-err-3")]}, [inspection("lab-err-3")]):
        answer = client.post("/v1/events", json=body, headers=auth(ADMIN))
        assert answer.status_code == 422
        assert "/v1/events/batch" in answer.json()["errors"][0]["message"]
    bare = client.post("/v1/events/batch", json=[inspection("lab-err-3")], headers=auth(ADMIN))
    assert bare.status_code == 422 and '{"events": [...]}' in bare.json()["errors"][0]["message"]
    single = client.post("/v1/events/batch", json=inspection("lab-err-3"), headers=auth(ADMIN))
    assert "post it to /v1/events" in single.json()["errors"][0]["message"]
    assert publisher.published == []


def test_a_conflict_says_how_to_correct_a_result(client: TestClient) -> None:
    event = inspection("lab-err-4")
    assert client.post("/v1/events", json=event, headers=auth(ADMIN)).status_code == 202
    answer = client.post("/v1/events", json=with_changes(event, "data.verdict", "fail"), headers=auth(ADMIN))
    assert answer.status_code == 409
    body = answer.json()
    assert body["conflicts"] == [{"index": 0, "event_id": "lab-err-4", "sample_id": "S-lab-err-4"}]
    assert "higher revision" in body["detail"] and "修订号" in body["correction_zh"]
