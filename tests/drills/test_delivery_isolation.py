"""Drill (issue 15 item 4): a slow or dead receiver delays only its own subscription's deliveries.

Three subscriptions of one agency: a drip receiver (answers one byte every 5 s), a black hole (accepts
the connection, never answers) and a healthy webhook receiver. The delivery worker runs as in the
service (``poll`` every 0.2 s, real time). Every new notice reaches the healthy receiver in under 2 s
while the other two hang; the drip attempt ends at the total deadline (not at httpx's per-read timeout,
which a drip never trips), is recorded as failed and is retried.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.alerts.models import DeliveryAttempt
from tests.alerts.support import Harness, figure
from tests.support import WebhookReceiver

pytestmark = [pytest.mark.drill]

DEADLINE = 6.0


class BadReceiver:
    """``drip``: reads the request, then answers one byte of a valid HTTP response every 5 s.
    ``black_hole``: a listening socket that never accepts (the kernel completes the handshake)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = threading.Event()
        if mode == "drip":
            threading.Thread(target=self._serve, daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        try:
            conn.recv(65536)
            for byte in answer:
                if self.closed.wait(5.0):
                    break
                conn.sendall(bytes([byte]))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


@pytest.fixture
def harness(sqlite_url: str, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(sqlite_url, tmp_path, delivery_timeout_seconds=DEADLINE)
    yield h
    h.close()


def test_a_drip_and_a_black_hole_do_not_delay_a_healthy_receiver(harness: Harness) -> None:
    healthy = WebhookReceiver().start()
    drip, hole = BadReceiver("drip"), BadReceiver("black_hole")
    harness.clock.now = lambda: dt.datetime.now(dt.UTC)  # type: ignore[method-assign]  # real time in this drill
    try:
        drip_id = harness.subscribe("agri", drip.url())
        harness.subscribe("agri", hole.url())
        harness.subscribe("agri", healthy.url())
        cities = list(harness.rt.catalogue.city_codes)[:5]
        latencies: list[float] = []
        started = time.monotonic()
        for city in cities:
            harness.apply(figure("breach", region=city))
            queued = time.monotonic()
            want = len(latencies) + 1
            while len(healthy.snapshot()) < want and time.monotonic() - queued < 5:
                harness.rt.worker.poll(harness.clock.now())
                time.sleep(0.05)
            latencies.append(time.monotonic() - queued)
            time.sleep(max(0.0, 1.5 - (time.monotonic() - queued)))
        assert len(healthy.snapshot()) == len(cities)
        assert max(latencies) < 2.0, latencies
        # the drip's first attempt ends at the deadline (well before its 2-byte answer would finish)
        while time.monotonic() - started < DEADLINE + 3:
            harness.rt.worker.poll(harness.clock.now())
            time.sleep(0.2)
        with harness.rt.sessions() as session:
            attempts = session.query(DeliveryAttempt).all()
        drip_deliveries = {d.delivery_id for d in harness.deliveries() if d.subscription_id == drip_id}
        drip_attempts = [a for a in attempts if a.delivery_id in drip_deliveries]
        assert drip_attempts, "the drip attempt was never recorded"
        first = drip_attempts[0]
        assert first.status_code is None and "deadline" in (first.error or ""), first.error
        assert DEADLINE * 1000 * 0.9 <= (first.latency_ms or 0) < (DEADLINE + 1.5) * 1000
        retried = [d for d in harness.deliveries() if d.delivery_id == first.delivery_id]
        assert retried[0].status == "pending" and retried[0].next_attempt_at is not None  # retried, not delivered
        print(f"healthy delivery latencies (s): {[round(x, 3) for x in latencies]}; "
              f"drip attempt ended after {first.latency_ms} ms")
    finally:
        harness.rt.worker._pool.shutdown(wait=False, cancel_futures=True)
        drip.close()
        hole.close()
        healthy.stop()
