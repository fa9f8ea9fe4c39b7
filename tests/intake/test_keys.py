"""API keys as an operator and a lab see them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.intake.support import ADMIN, auth, inspection


def test_an_operator_creates_a_lab_key_that_is_shown_once(client: TestClient):
    response = client.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001", "name": "Suzhou lab"},
                           headers=auth(ADMIN))
    assert response.status_code == 201
    body = response.json()
    assert body["api_key"].startswith("qw_")
    assert {k: body[k] for k in ("role", "lab_id", "agency_id")} == {"role": "lab", "lab_id": "LAB-0001",
                                                                     "agency_id": None}
    listed = client.get("/v1/api-keys", headers=auth(ADMIN)).json()
    assert [k["key_id"] for k in listed] == [body["key_id"]]
    assert "api_key" not in listed[0] and body["api_key"] not in str(listed)


def test_an_agency_key_needs_an_agency_of_the_catalogue(client: TestClient):
    ok = client.post("/v1/api-keys", json={"role": "agency", "agency_id": "city-3205"}, headers=auth(ADMIN))
    assert ok.status_code == 201
    unknown = client.post("/v1/api-keys", json={"role": "agency", "agency_id": "nasa"}, headers=auth(ADMIN))
    assert unknown.status_code == 422
    assert "unknown agency 'nasa'" in unknown.text


def test_a_key_request_with_the_wrong_fields_is_422(client: TestClient):
    for body in ({"role": "lab"}, {"role": "lab", "lab_id": "L1", "agency_id": "agri"}, {"role": "king"},
                 {"role": "operator", "lab_id": "L1"}, {"role": "lab", "lab_id": "bad id"}):
        assert client.post("/v1/api-keys", json=body, headers=auth(ADMIN)).status_code == 422, body


def test_only_operators_manage_keys(client: TestClient, lab_key: str):
    assert client.post("/v1/api-keys", json={"role": "operator"}, headers=auth(lab_key)).status_code == 403
    assert client.get("/v1/api-keys", headers=auth(lab_key)).status_code == 403
    assert client.get("/v1/api-keys").status_code == 401


def test_an_operator_key_can_create_keys_too(client: TestClient):
    operator = client.post("/v1/api-keys", json={"role": "operator"}, headers=auth(ADMIN)).json()["api_key"]
    assert client.post("/v1/api-keys", json={"role": "lab", "lab_id": "L2"}, headers=auth(operator)).status_code == 201


def test_a_revoked_key_is_refused_at_once(client: TestClient):
    created = client.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001"}, headers=auth(ADMIN)).json()
    assert client.post("/v1/events", json=inspection(), headers=auth(created["api_key"])).status_code == 202
    assert client.delete(f"/v1/api-keys/{created['key_id']}", headers=auth(ADMIN)).status_code == 204
    assert client.post("/v1/events", json=inspection(), headers=auth(created["api_key"])).status_code == 401
    listed = client.get("/v1/api-keys", headers=auth(ADMIN)).json()
    assert listed[0]["revoked_at"] is not None


def test_revoking_an_unknown_key_is_404(client: TestClient):
    assert client.delete("/v1/api-keys/nope", headers=auth(ADMIN)).status_code == 404


def test_a_wrong_method_is_405_listing_every_method_of_the_path(client):
    collection = client.put("/v1/api-keys", headers=auth(ADMIN))
    assert collection.status_code == 405
    assert collection.headers["Allow"] == "GET, POST", "GET and POST are two routes of one included router"
    one = client.post("/v1/api-keys/some-key", headers=auth(ADMIN))
    assert (one.status_code, one.headers["Allow"]) == (405, "DELETE")


def test_the_key_list_shows_when_each_key_was_last_used(client: TestClient, lab_key: str):
    (before,) = client.get("/v1/api-keys", headers=auth(ADMIN)).json()
    assert before["last_used_at"] is None
    client.post("/v1/events", json=inspection(), headers=auth(lab_key))
    (after,) = client.get("/v1/api-keys", headers=auth(ADMIN)).json()
    assert after["last_used_at"] == "2026-11-28T10:00:00+08:00"  # the test clock's instant, in CST
