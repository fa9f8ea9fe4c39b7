"""Load through the real intake HTTP API: paced batches with accept times, and figure visibility.

Accept-to-visible method: batches of ``rate × 50 ms`` events are posted on a fixed schedule (open loop,
4 sender threads, so one slow request does not hold back the schedule); each event's accept time is the
moment its batch's 202 arrived. Every event is a new sample in one of 12 cities, so the province figure's
denominator (``GET /v1/indicators/agri_sampling_pass_rate?region=320000&window=30d``) rises by exactly one
per applied event. A separate thread polls that figure every ~20 ms and records when the denominator
changes. Visibility times are attributed to events by count order: the k-th accepted event is taken to
be visible when the denominator first reaches baseline + k. (The 6 partitions are consumed in parallel,
so the true order can differ slightly; the distribution is what counts.) Latencies below zero (an event
visible before its 202 reached the client) count as zero. Polling adds up to ~20 ms plus one GET.
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

TZ = dt.timezone(dt.timedelta(hours=8))
LATENCY_CITIES = ("320100", "320200", "320300", "320400", "320500", "320600", "320700", "320800",
                  "320900", "321000", "321100", "321200")
CATEGORIES = ("vegetables", "fruit", "tea", "grain", "livestock", "poultry", "eggs", "aquatic")
PROVINCE_FIGURE = ("/v1/indicators/agri_sampling_pass_rate", {"region": "320000", "window": "30d"})
TICK = 0.05


def occurred_now() -> str:
    return (dt.datetime.now(TZ) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")


def new_sample(prefix: str, n: int, occurred: str, verdict: str = "pass") -> dict[str, Any]:
    return {"event_id": f"{prefix}-{n:09d}", "type": "inspection.completed", "occurred_at": occurred,
            "lab_id": "LAB-0001",
            "data": {"sample_id": f"S-{prefix}-{n}", "programme": "agri-routine-monitoring",
                     "category": CATEGORIES[n % len(CATEGORIES)], "region": LATENCY_CITIES[n % len(LATENCY_CITIES)],
                     "verdict": verdict}}


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[round(q * 1000) - 1]


def post_batches(base: str, token: str, batches: Iterator[list[dict[str, Any]]], *, threads: int = 4) -> int:
    """Post every batch as fast as intake takes them (not measured); returns the events accepted."""
    lock = threading.Lock()
    accepted = 0
    errors: list[str] = []

    def worker() -> None:
        nonlocal accepted
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"}, timeout=60) as client:
            while True:
                with lock:
                    batch = next(batches, None)
                if batch is None or errors:
                    return
                response = client.post("/v1/events/batch", content=orjson.dumps({"events": batch}))
                if response.status_code != 202:
                    errors.append(f"{response.status_code} {response.text[:300]}")
                    return
                with lock:
                    accepted += response.json()["accepted"]

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise RuntimeError(f"intake refused a batch: {errors[0]}")
    return accepted


class FigurePoller(threading.Thread):
    """Polls one figure every ``interval`` s; records (perf_counter time, denominator) on each change."""

    def __init__(self, base: str, token: str, interval: float = 0.02) -> None:
        super().__init__(daemon=True, name="figure-poller")
        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self.interval = interval
        self.changes: list[tuple[float, int]] = []
        self.polls = 0
        self.stopping = threading.Event()

    def denominator(self) -> int:
        path, params = PROVINCE_FIGURE
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return int(response.json().get("denominator") or 0)

    def run(self) -> None:
        last = None
        while not self.stopping.is_set():
            started = time.perf_counter()
            value = self.denominator()
            seen = time.perf_counter()
            self.polls += 1
            if value != last:
                self.changes.append((seen, value))
                last = value
            self.stopping.wait(max(0.0, self.interval - (seen - started)))

    def latest(self) -> int:
        return self.changes[-1][1] if self.changes else 0

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.client.close()


def paced_run(base_intake: str, base_indicators: str, token: str, *, rate: int, seconds: float,
              prefix: str) -> dict[str, Any]:
    """Post ``rate`` events/s for ``seconds`` through intake; measure accept-to-visible per event."""
    per_batch = max(1, round(rate * TICK))
    interval = per_batch / rate
    batches_total = int(seconds / interval)
    occurred = occurred_now()
    poller = FigurePoller(base_indicators, token)
    baseline = poller.denominator()
    accepts: list[tuple[float, int]] = []
    lock = threading.Lock()
    counter = iter(range(batches_total))
    errors: list[str] = []
    poller.start()
    started = time.perf_counter()

    def sender() -> None:
        with httpx.Client(base_url=base_intake, headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/json"}, timeout=30) as client:
            while True:
                with lock:
                    j = next(counter, None)
                if j is None:
                    return
                due = started + j * interval
                if (wait := due - time.perf_counter()) > 0:
                    time.sleep(wait)
                body = orjson.dumps({"events": [new_sample(prefix, j * per_batch + i, occurred)
                                                for i in range(per_batch)]})
                response = client.post("/v1/events/batch", content=body)
                accepted_at = time.perf_counter()
                if response.status_code != 202:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                    continue
                with lock:
                    accepts.append((accepted_at, response.json()["accepted"]))

    senders = [threading.Thread(target=sender, daemon=True) for _ in range(4)]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    send_seconds = time.perf_counter() - started
    sent = sum(n for _, n in accepts)
    deadline = time.perf_counter() + 120
    while poller.latest() < baseline + sent and time.perf_counter() < deadline:
        time.sleep(0.05)
    poller.stop()

    accept_times = sorted(t for t, n in accepts for _ in range(n))
    latencies: list[float] = []
    negatives = 0
    k = 0
    for seen, value in poller.changes:
        reached = min(value - baseline, len(accept_times))
        while k < reached:
            latency = seen - accept_times[k]
            negatives += latency < 0
            latencies.append(max(0.0, latency))
            k += 1
    latencies.sort()
    return {
        "target_rate": rate, "seconds": seconds, "batch_size": per_batch, "events_accepted": sent,
        "achieved_rate": sent / send_seconds, "send_seconds": send_seconds, "errors": errors[:5],
        "error_count": len(errors), "events_visible": len(latencies), "polls": poller.polls,
        "visible_before_accept": negatives,
        "p50_s": percentile(latencies, 0.50), "p95_s": percentile(latencies, 0.95),
        "p99_s": percentile(latencies, 0.99), "max_s": latencies[-1] if latencies else None,
    }
