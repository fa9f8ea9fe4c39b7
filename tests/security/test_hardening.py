"""Issue 15's attacks on request handling, alerts and the URL policy, replayed against the services as processes.

Each test makes the attack an ordinary (or hostile) key holder would, asserts the refusal, and that nothing
changed. The three services run once for the module (real Kafka, real PostgreSQL), with short deadlines for
slow clients and a 2-second reminder interval.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.launcher import FAST_TIMINGS, ServiceProcesses
from devtools.localinfra import LocalKafka, LocalPostgres
from tests.support import WebhookReceiver, wait_for

pytestmark = [pytest.mark.security, pytest.mark.e2e, pytest.mark.integration]

CST = dt.timezone(dt.timedelta(hours=8))
SECRET = "security-webhook-secret-01"
TIMEOUT = 2.0  # QW_HEADER_TIMEOUT_SECONDS and QW_BODY_TIMEOUT_SECONDS of the stack below


@pytest.fixture(scope="module")
def stack(kafka_broker: LocalKafka, postgres_server: LocalPostgres,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcesses]:
    name = f"t_sec_{uuid.uuid4().hex[:12]}"
    timings = {**FAST_TIMINGS, "QW_REPEAT_INTERVAL_SECONDS": "2", "QW_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
               "QW_BODY_TIMEOUT_SECONDS": str(TIMEOUT)}
    services = ServiceProcesses(bootstrap=kafka_broker.bootstrap, database_url=postgres_server.create_database(name),
                                topic_prefix=f"{name}.", data_dir=tmp_path_factory.mktemp("security"), timings=timings)
    try:
        services.start()
        yield services
    finally:
        services.stop()
        postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def keys(stack: ServiceProcesses) -> dict[str, str]:
    out = {"admin": stack.admin_token}
    with stack.client("intake") as admin:
        for name, body in {"lab": {"role": "lab", "lab_id": "LAB-3205"},
                           "agri": {"role": "agency", "agency_id": "agri"},
                           "city": {"role": "agency", "agency_id": "city-3205"},
                           "transport": {"role": "agency", "agency_id": "transport"}}.items():
            created = admin.post("/v1/api-keys", json=body)
            assert created.status_code == 201, created.text
            out[name] = created.json()["api_key"]
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def urllib_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST the way Python's urllib does: the whole body first, then the answer is read."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def count(stack: ServiceProcesses, service: str, path: str, field: str, token: str) -> int:
    with stack.client(service, token) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    return len(body[field] if field else body)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ---- bodies over the limit -----------------------------------------------------------------------------
@pytest.mark.parametrize(("service", "path", "size"), [
    ("intake", "/v1/events/batch", 2_200_000),  # over intake's 1 MiB event limit
    ("alerts", "/v1/silences", 200_000),  # over the 64 KiB API limit
    ("indicators", "/v1/dead-letters/replay", 200_000),
    ("intake", "/v1/api-keys", 200_000),
])
def test_a_body_over_the_limit_is_413_twenty_times_out_of_twenty_for_a_client_that_uploads_first(
        stack: ServiceProcesses, keys: dict[str, str], service: str, path: str, size: int) -> None:
    body = b'{"events": [' + b" " * size + b"]}"
    before = count(stack, "alerts", "/v1/silences", "silences", keys["admin"])
    statuses = [urllib_post(stack.url(service) + path, body, bearer(keys["admin"])) for _ in range(20)]
    assert statuses == [413] * 20
    assert count(stack, "alerts", "/v1/silences", "silences", keys["admin"]) == before


def test_an_anonymous_body_is_refused_before_it_is_read(stack: ServiceProcesses) -> None:
    statuses = [urllib_post(stack.url("alerts") + "/v1/silences", b'{"reason": "' + b"x" * 1_000_000 + b'"}', {})
                for _ in range(20)]
    assert statuses == [401] * 20


def test_four_concurrent_anonymous_60_mb_uploads_are_cut_off_and_memory_stays_put(stack: ServiceProcesses) -> None:
    pid = stack.processes["alerts"].pid
    start = rss_kib(pid)
    total = 60 * 1024 * 1024
    sent: list[int] = []
    answers: list[bytes] = []

    def upload() -> None:
        with socket.create_connection(("127.0.0.1", stack.ports["alerts"]), timeout=30) as sock:
            sock.sendall(b"POST /v1/silences HTTP/1.1\r\nHost: alerts\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % total)
            chunk, done = b"x" * 65536, 0
            try:
                while done < total:
                    sock.sendall(chunk)
                    done += len(chunk)
            except OSError:
                pass
            sent.append(done)
            try:
                answers.append(sock.recv(200))
            except OSError:
                answers.append(b"")

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(sent) == 4
    # The server stopped reading long before 60 MB: each upload was cut off (answered 401, or reset).
    assert all(done < total // 2 for done in sent), sent
    assert all(a == b"" or a.startswith(b"HTTP/1.1 401") for a in answers), answers
    assert rss_kib(pid) < start + 50 * 1024  # the unfixed service grew by ~290 MB


# ---- numbers, dates and duplicate keys ---------------------------------------------------------------------
BAD_NUMBERS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"123456789012345678901234567890"]
ROUTES = [  # service, path, body with {} where the bad number goes, the field it is in
    ("intake", "/v1/api-keys", b'{"role": "lab", "lab_id": {}}', "lab_id"),
    ("alerts", "/v1/agencies/agri/subscriptions",
     b'{"url": "https://example.org/hook", "secret": "0123456789abcdef", "min_severity": {}}', "min_severity"),
    ("alerts", "/v1/alerts/0000000000000000/ack", b'{"comment": {}}', "comment"),
    ("alerts", "/v1/silences", b'{"indicator": "agri_sampling_pass_rate", "duration_seconds": {}, "reason": "r"}',
     "duration_seconds"),
    ("indicators", "/v1/dead-letters/replay", b'{"ids": [1, {}]}', 1),
]


def _state(stack: ServiceProcesses, keys: dict[str, str]) -> tuple[int, int, int]:
    return (count(stack, "intake", "/v1/api-keys", "", keys["admin"]),
            count(stack, "alerts", "/v1/agencies/agri/subscriptions", "subscriptions", keys["admin"]),
            count(stack, "alerts", "/v1/silences", "silences", keys["admin"]))


@pytest.mark.parametrize("number", BAD_NUMBERS, ids=lambda n: n.decode()[:12])
def test_non_finite_and_huge_numbers_are_422_naming_the_field_on_every_route(
        stack: ServiceProcesses, keys: dict[str, str], number: bytes) -> None:
    before = _state(stack, keys)
    for service, path, template, field in ROUTES:
        response = httpx.post(stack.url(service) + path, content=template.replace(b"{}", number),
                              headers={**bearer(keys["admin"]), "Content-Type": "application/json"}, timeout=15)
        assert response.status_code == 422, (path, response.text)
        assert any(error["loc"][-1] == field for error in response.json()["detail"]), (path, response.text)
    assert _state(stack, keys) == before


def test_extreme_silence_dates_are_422_naming_the_field(stack: ServiceProcesses, keys: dict[str, str]) -> None:
    before = _state(stack, keys)
    for starts, ends in [("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"),
                         ("2026-01-01T00:00:00+08:00", "9999-12-31T23:59:59-14:00"),
                         ("0001-01-01T00:00:00+14:00", "2027-01-01T00:00:00+08:00")]:
        response = httpx.post(stack.url("alerts") + "/v1/silences", headers=bearer(keys["admin"]), timeout=15,
                              json={"indicator": "agri_sampling_pass_rate", "starts_at": starts, "ends_at": ends,
                                    "reason": "probe"})
        assert response.status_code == 422, response.text
        fields = {error["loc"][-1] for error in response.json()["detail"]}
        assert fields & {"starts_at", "ends_at"}, response.text
    response = httpx.get(stack.url("alerts") + "/v1/alerts", params={"since": "0001-01-01T00:00:00+14:00"},
                         headers=bearer(keys["admin"]), timeout=15)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "since"
    assert _state(stack, keys) == before


def test_duplicate_keys_are_a_clear_400(stack: ServiceProcesses, keys: dict[str, str]) -> None:
    before = _state(stack, keys)
    response = httpx.post(stack.url("intake") + "/v1/api-keys", headers={**bearer(keys["admin"]),
                          "Content-Type": "application/json"},
                          content=b'{"role": "agency", "agency_id": "agri", "role": "operator"}', timeout=15)
    assert response.status_code == 400 and "'role' appears twice" in response.json()["detail"]
    assert _state(stack, keys) == before


def test_control_characters_in_a_silence_reason_are_refused(stack: ServiceProcesses, keys: dict[str, str]) -> None:
    before = _state(stack, keys)
    response = httpx.post(stack.url("alerts") + "/v1/silences", headers=bearer(keys["admin"]), timeout=15,
                          json={"indicator": "agri_sampling_pass_rate", "duration_seconds": 60,
                                "reason": "ok\r\n{\"level\": \"error\"}\u202e"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "reason"
    assert _state(stack, keys) == before


# ---- slow clients --------------------------------------------------------------------------------------------
def _drip(stack: ServiceProcesses, head: bytes, drip: bytes) -> tuple[bytes, int]:
    """Send ``head``, then ``drip`` a byte at a time every 0.25 s; the answer and how many bytes got in."""
    with socket.create_connection(("127.0.0.1", stack.ports["alerts"]), timeout=30) as sock:
        sock.sendall(head)
        dripped = 0
        try:
            for byte in drip:
                sock.sendall(bytes([byte]))
                dripped += 1
                sock.settimeout(0.25)
                try:
                    answer = sock.recv(4096)
                    return answer, dripped
                except TimeoutError:
                    continue
        except OSError:
            pass
        sock.settimeout(5)
        try:
            return sock.recv(4096), dripped
        except OSError:
            return b"", dripped


def test_a_client_dripping_its_headers_is_cut_off(stack: ServiceProcesses) -> None:
    answer, dripped = _drip(stack, b"GET /healthz HTTP/1.1\r\nHost: alerts\r\n", b"X-Slow: " + b"a" * 200)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert dripped < 200  # cut off well before it finished (200 drips take 50 s; the deadline is 2 s)


def test_a_client_dripping_its_body_is_cut_off(stack: ServiceProcesses, keys: dict[str, str]) -> None:
    before = _state(stack, keys)
    body = b'{"indicator": "agri_sampling_pass_rate", "duration_seconds": 60, "reason": "' + b"a" * 200 + b'"}'
    head = (b"POST /v1/silences HTTP/1.1\r\nHost: alerts\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + keys["admin"].encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
    answer, dripped = _drip(stack, head, body)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert dripped < len(body)
    assert _state(stack, keys) == before


# ---- alerts: visibility and acknowledgements ---------------------------------------------------------------
def _inspections(n_pass: int, n_fail: int) -> list[dict[str, Any]]:
    occurred = (dt.datetime.now(CST) - dt.timedelta(hours=2)).isoformat()
    run = uuid.uuid4().hex[:8]
    return [{"event_id": f"sec-{run}-{i}", "type": "inspection.completed", "occurred_at": occurred,
             "lab_id": "LAB-3205",
             "data": {"sample_id": f"SEC-{run}-{i}", "programme": "agri-routine-monitoring", "category": "vegetables",
                      "region": "320505", "verdict": "pass" if i < n_pass else "fail"}}
            for i in range(n_pass + n_fail)]


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[str, WebhookReceiver]]:
    hooks = {"agri": WebhookReceiver(secret=SECRET).start(), "city-3205": WebhookReceiver(secret=SECRET).start()}
    yield hooks
    for hook in hooks.values():
        hook.stop()


@pytest.fixture(scope="module")
def firing_alert(stack: ServiceProcesses, keys: dict[str, str], receivers: dict[str, WebhookReceiver]) -> str:
    """Suzhou's agricultural pass rate in breach, an alert firing for agri and city-3205, each subscribed."""
    with stack.client("alerts") as admin:
        for agency, hook in receivers.items():
            created = admin.post(f"/v1/agencies/{agency}/subscriptions",
                                 json={"url": hook.url(), "secret": SECRET, "min_severity": "warning"})
            assert created.status_code == 201, created.text
    with stack.client("intake", keys["lab"]) as lab:
        posted = lab.post("/v1/events/batch", json={"events": _inspections(40, 20)})
        assert posted.status_code == 202, posted.text

    def firing() -> str | None:
        with stack.client("alerts", keys["agri"]) as agri:
            alerts = [a for a in agri.get("/v1/alerts").json()["alerts"]
                      if a["region"] == "320500" and a["indicator"] == "agri_sampling_pass_rate"]
        return alerts[0]["alert_id"] if alerts else None

    wait_for(lambda: firing() is not None, timeout=60, interval=0.5, what="the Suzhou alert to fire")
    alert_id = firing()
    assert alert_id is not None
    wait_for(lambda: all(h.requests for h in receivers.values()), timeout=30, interval=0.2, what="firing notices")
    return alert_id


def test_an_agency_the_alert_does_not_concern_gets_404_as_for_a_missing_one(
        stack: ServiceProcesses, keys: dict[str, str], firing_alert: str) -> None:
    with stack.client("alerts", keys["transport"]) as transport:
        hidden = transport.get(f"/v1/alerts/{firing_alert}")
        missing = transport.get("/v1/alerts/ffffffffffffffff")
        hidden_ack = transport.post(f"/v1/alerts/{firing_alert}/ack", json={"comment": "mine now"})
        missing_ack = transport.post("/v1/alerts/ffffffffffffffff/ack", json={"comment": "mine now"})
    assert (hidden.status_code, hidden_ack.status_code) == (404, 404)
    assert hidden.json()["detail"].replace(firing_alert, "X") == \
        missing.json()["detail"].replace("ffffffffffffffff", "X")
    assert hidden_ack.json()["detail"].replace(firing_alert, "X") == \
        missing_ack.json()["detail"].replace("ffffffffffffffff", "X")
    with stack.client("alerts") as admin:
        assert admin.get(f"/v1/alerts/{firing_alert}").json()["acks"] == []  # nothing recorded


def test_one_agencys_ack_leaves_another_agencys_reminders_running(
        stack: ServiceProcesses, keys: dict[str, str], receivers: dict[str, WebhookReceiver],
        firing_alert: str) -> None:
    with stack.client("alerts", keys["agri"]) as agri:
        acked = agri.post(f"/v1/alerts/{firing_alert}/ack", json={"comment": "抽检组已派出"})
    assert acked.status_code == 200, acked.text

    def about_it(agency: str) -> int:  # other alerts (the province's figure) may remind too
        return sum(any(a["alert_id"] == firing_alert for a in hook.json["alerts"])
                   for hook in receivers[agency].snapshot())

    agri_heard, city_heard = about_it("agri"), about_it("city-3205")
    # Reminders every 2 s: the city hears at least two more, agri (after at most one already in flight) no more.
    wait_for(lambda: about_it("city-3205") >= city_heard + 2, timeout=30, interval=0.2,
             what="two reminders to the city")
    assert about_it("agri") <= agri_heard + 1
    reminder = [h.json for h in receivers["city-3205"].snapshot()
                if any(a["alert_id"] == firing_alert for a in h.json["alerts"])][-1]
    (alert,) = [a for a in reminder["alerts"] if a["alert_id"] == firing_alert]
    assert [(a["agency_id"], a["comment"]) for a in alert["acks"]] == [("agri", "抽检组已派出")]
    with stack.client("alerts", keys["city"]) as city:
        seen = city.get(f"/v1/alerts/{firing_alert}").json()
    assert seen["acked"] is False and [a["by"] for a in seen["acks"]] == ["agency:agri"]


def test_an_agency_lists_only_its_silences_without_key_ids(stack: ServiceProcesses, keys: dict[str, str]) -> None:
    with stack.client("alerts") as admin:
        for indicator in ("agri_sampling_pass_rate", "green_building_share"):
            created = admin.post("/v1/silences", json={"indicator": indicator, "region": "320500",
                                                        "duration_seconds": 600, "reason": "maintenance"})
            assert created.status_code == 201, created.text
    with stack.client("alerts", keys["agri"]) as agri:
        listed = agri.get("/v1/silences").json()["silences"]
    assert {s["indicator"] for s in listed} == {"agri_sampling_pass_rate"}
    assert {s["created_by"] for s in listed} == {"operator"}
    with stack.client("alerts") as admin:
        assert any(s["created_by"].startswith("operator:") for s in admin.get("/v1/silences").json()["silences"])


# ---- the URL policy, with private webhooks not allowed ----------------------------------------------------
@pytest.fixture(scope="module")  # one process for every URL case: each case leaves no subscription behind
def strict_alerts(kafka_broker: LocalKafka, postgres_server: LocalPostgres,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcesses]:
    name = f"t_sec_{uuid.uuid4().hex[:12]}"
    services = ServiceProcesses(bootstrap=kafka_broker.bootstrap, database_url=postgres_server.create_database(name),
                                topic_prefix=f"{name}.", data_dir=tmp_path_factory.mktemp("strict-alerts"),
                                extra_env={"QW_ALLOW_PRIVATE_WEBHOOKS": "false"})
    try:
        services.start("alerts")
        yield services
    finally:
        services.stop()
        postgres_server.drop_database(name)


@pytest.mark.parametrize("url", ["https://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
                                 "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
                                 "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
                                 "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
                                 "https://[::ffff:192.168.1.1]/hook"])
def test_a_webhook_url_embedding_a_private_ipv4_address_is_refused(strict_alerts: ServiceProcesses, url: str) -> None:
    with strict_alerts.client("alerts") as admin:
        response = admin.post("/v1/agencies/agri/subscriptions",
                              json={"url": url, "secret": SECRET, "min_severity": "warning"})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][-1] == "url"
        assert admin.get("/v1/agencies/agri/subscriptions").json()["subscriptions"] == []
