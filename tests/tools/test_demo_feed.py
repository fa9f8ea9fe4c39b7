import datetime as dt

import pytest

from devtools.demo import DemoFeed, FeedError, lab_ids, main
from shared.catalogue import load_catalogue
from shared.settings import DEFAULT_CATALOGUE
from tests.tools.fakehttp import FakeServer, Recorded

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)


class FakeClock:
    """now() and sleep() for the feed: sleeping moves the clock instead of waiting."""

    def __init__(self) -> None:
        self.at = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += dt.timedelta(seconds=seconds)


def fake_intake(fake: FakeServer, *, unavailable_first: int = 0) -> None:
    state = {"unavailable": unavailable_first}

    def create_key(request: Recorded) -> tuple[int, dict]:
        return 201, {"api_key": f"key-{request.body['lab_id']}", "key_id": request.body["lab_id"]}

    def batch(request: Recorded) -> tuple[int, dict] | tuple[int, dict, dict]:
        if state["unavailable"] > 0:
            state["unavailable"] -= 1
            return 503, {"detail": "Kafka unavailable"}, {"Retry-After": "2"}
        labs = {e["lab_id"] for e in request.body["events"]}
        if len(labs) != 1 or request.headers["authorization"] != f"Bearer key-{labs.pop()}":
            return 403, {"detail": "a lab key may post only its own lab's events"}
        return 202, {"accepted": len(request.body["events"]), "duplicates": 0, "event_ids": []}

    fake.route("GET", "/readyz", (200, {"status": "ready"}))
    fake.route("POST", "/v1/api-keys", create_key)
    fake.route("POST", "/v1/events/batch", batch)


def feed(fake: FakeServer, clock: FakeClock, **kwargs) -> DemoFeed:
    return DemoFeed(intake_url=fake.url, token="operator", catalogue=CATALOGUE, now=clock.now, sleep=clock.sleep,
                    **kwargs)


def test_the_feed_creates_a_key_per_lab_and_posts_each_labs_events_with_its_own_key(fake_server: FakeServer) -> None:
    fake_intake(fake_server)
    clock = FakeClock()
    stats = feed(fake_server, clock, backfill_days=2, duration=600, speed=60).run()
    keys = fake_server.calls("POST", "/v1/api-keys")
    assert [k.body["lab_id"] for k in keys] == list(lab_ids())
    assert all(k.headers["authorization"] == "Bearer operator" and k.body["role"] == "lab" for k in keys)
    batches = fake_server.calls("POST", "/v1/events/batch")
    posted = [e for b in batches for e in b.body["events"]]
    assert stats.accepted == stats.posted == len(posted) and stats.rejected == 0
    live = [e for e in posted if dt.datetime.fromisoformat(e["occurred_at"]) >= dt.datetime(2026, 11, 28, 2, 0,
                                                                                               tzinfo=dt.UTC)]
    assert 10 <= len(live) <= 300  # ten minutes at 60× a province day: a few events a minute, not 20 a second
    assert len(posted) - len(live) > 200  # two days of backfill


def test_the_feed_waits_out_retry_after_on_503_and_posts_the_same_batch_again(fake_server: FakeServer) -> None:
    fake_intake(fake_server, unavailable_first=2)
    clock = FakeClock()
    stats = feed(fake_server, clock, backfill_days=1, duration=1).run()
    batches = fake_server.calls("POST", "/v1/events/batch")
    assert batches[0].body == batches[1].body == batches[2].body
    assert clock.slept[:2] == [2.0, 2.0]
    assert stats.retries == 2 and stats.accepted == stats.posted


def test_a_refused_operator_token_stops_the_feed_with_the_reason(fake_server: FakeServer) -> None:
    fake_server.route("GET", "/readyz", (200, {"status": "ready"}))
    fake_server.route("POST", "/v1/api-keys", (403, {"detail": "operator role required"}))
    with pytest.raises(FeedError, match="operator role required"):
        feed(fake_server, FakeClock(), duration=1).run()


def test_the_command_line_needs_a_token(monkeypatch, capsys) -> None:
    for name in ("QW_TOKEN", "QW_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--duration", "1"]) == 2
    assert "operator token" in capsys.readouterr().err
