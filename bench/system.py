"""Whole-system measurements on the three service processes: consumer drain, webhook latency, memory."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench import prom
from bench.bench_indicators import make_event, raw_rate
from bench.load import occurred_now, post_batches
from bench.machine import process_memory_mb
from devtools.launcher import ServiceProcesses
from services.indicators.consumer import tune_gc

PROCESSED = ("qw_indicators_events_applied_total", "qw_indicators_revisions_ignored_total",
             "qw_indicators_duplicates_total", "qw_indicators_dead_letters_total")
SPOT_CHECK = "national_spot_check_pass_rate"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"


def mixed_batches(prefix: str, count: int, size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """bench_indicators' event mix (inspections with revisions, samples, surveys) in batches."""
    occurred = occurred_now()
    numbers = iter(range(count))
    while chunk := list(itertools.islice(numbers, size)):
        yield [make_event(prefix, n, occurred) for n in chunk]


def raw_consume_parse(bootstrap: str, topic: str) -> dict[str, float]:
    """The consume ceiling (``bench_indicators.raw_rate``) under the GC settings the indicator consumer sets
    for itself when it starts."""
    tune_gc()
    return raw_rate(bootstrap, topic)


def indicators_processed(stack: ServiceProcesses) -> tuple[float, float]:
    samples = prom.scrape(stack.url("indicators"))
    return sum(prom.total(samples, name) for name in PROCESSED), prom.total(samples, "qw_indicators_consumer_lag")


def wait_caught_up(stack: ServiceProcesses, *, expected: float | None = None, timeout: float = 600) -> float:
    """Poll indicators' counters until it has processed ``expected`` events (or, without it, until its lag is 0
    and nothing moved for 2 s), then alerts' lag is 0. Returns the processed count."""
    deadline = time.monotonic() + timeout
    last, still_since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        processed, lag = indicators_processed(stack)
        if processed != last:
            last, still_since = processed, time.monotonic()
        if (expected is not None and processed >= expected) or \
                (lag == 0 and time.monotonic() - still_since > 2):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError(f"indicators did not catch up within {timeout} s (processed {last})")
    if "alerts" in stack.processes:
        while time.monotonic() < deadline:
            if prom.total(prom.scrape(stack.url("alerts")), "qw_alerts_consumer_lag") == 0:
                break
            time.sleep(0.2)
    return last


def consumer_drain(stack: ServiceProcesses, backlog: int, timeout: float = 900) -> dict[str, float]:
    """Start indicators on a topic holding ``backlog`` events; its rate from the first scrape that shows
    progress to the one that shows all done (scrapes every 0.2 s)."""
    stack.start("indicators")
    first: tuple[float, float] | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processed, _lag = indicators_processed(stack)
        now = time.perf_counter()
        if processed > 0 and first is None:
            first = (now, processed)
        if processed >= backlog:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError(f"indicators processed {processed} of {backlog} events within {timeout} s")
    assert first is not None
    elapsed = now - first[0]
    return {"events": processed - first[1], "seconds": elapsed,
            "rate": (processed - first[1]) / elapsed if elapsed > 0 else float("nan"), "backlog": backlog}


def spot_checks(prefix: str, city: str, verdicts: list[str], start: int = 0) -> list[dict[str, Any]]:
    occurred = occurred_now()
    return [{"event_id": f"{prefix}-{city}-{start + i:04d}", "type": "inspection.completed", "occurred_at": occurred,
             "lab_id": "LAB-0001",
             "data": {"sample_id": f"S-{prefix}-{city}-{start + i}", "programme": "national-spot-check",
                      "category": "food-related", "region": city, "verdict": verdict}}
            for i, verdict in enumerate(verdicts)]


def subscribe(stack: ServiceProcesses, url: str) -> None:
    with stack.client("alerts") as alerts:
        response = alerts.post("/v1/agencies/market-supervision/subscriptions",
                               json={"url": url, "secret": WEBHOOK_SECRET, "min_severity": "warning"})
    if response.status_code != 201:
        raise RuntimeError(f"subscription refused: {response.status_code} {response.text}")


def webhook_trial(stack: ServiceProcesses, receiver: Any, prefix: str, city: str,
                  record: Callable[[list[dict[str, Any]]], None] | None = None) -> dict[str, Any]:
    """One breach: 29 spot checks (20 pass, 9 fail: below the minimum sample of 30, so insufficient data),
    settle, then one failing event tips the city into breach. Latency = webhook arrival − that event's 202.
    ``record`` is called with the events posted (the province benchmark's peer counts them too)."""
    with stack.client("intake") as intake, stack.client("indicators") as indicators:
        settling = spot_checks(prefix, city, ["pass"] * 20 + ["fail"] * 9)
        tipping = spot_checks(prefix, city, ["fail"], start=29)[0]
        if record is not None:
            record([*settling, tipping])
        first = intake.post("/v1/events/batch", json={"events": settling})
        assert first.status_code == 202, first.text

        def denominator() -> int:
            r = indicators.get(f"/v1/indicators/{SPOT_CHECK}", params={"region": city, "window": "30d"})
            return int(r.json().get("denominator") or 0) if r.status_code == 200 else 0

        deadline = time.monotonic() + 60
        while denominator() < 29 and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_caught_up(stack)
        before = len(receiver.snapshot())
        tip = intake.post("/v1/events", json=tipping)
        accepted_at = time.time()
        assert tip.status_code == 202, tip.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for hook in receiver.snapshot()[before:]:
            alerts = hook.json.get("alerts", [])
            if any(a["indicator"] == SPOT_CHECK and a["region"] == city and a["state"] == "firing" for a in alerts):
                return {"city": city, "seconds": hook.received_at - accepted_at,
                        "signature_valid": hook.signature_valid}
        time.sleep(0.01)
    raise RuntimeError(f"no webhook for the {city} breach within 120 s")


def intake_accepted(stack: ServiceProcesses) -> float:
    return prom.total(prom.scrape(stack.url("intake")), "qw_intake_events_accepted_total")


def fill_and_measure_memory(stack: ServiceProcesses, prefix: str, events: int, checkpoints: int = 5) -> dict[str, Any]:
    """Post bench_indicators' mix through intake until intake has accepted ``events`` in all, sampling RSS on
    the way; wait until indicators and alerts have caught up, then read each service's VmRSS/VmHWM."""
    token = stack.admin_token
    trend: list[dict[str, Any]] = []
    done = int(intake_accepted(stack))
    remaining = max(0, events - done)
    step = max(1000, -(-remaining // checkpoints))
    posted = 0
    started = time.perf_counter()
    while posted < remaining:
        chunk = min(step, remaining - posted)
        post_batches(stack.url("intake"), token, mixed_batches(f"{prefix}{posted}", chunk))
        posted += chunk
        trend.append({"accepted": int(intake_accepted(stack)),
                      **{name: process_memory_mb(p.pid).get("VmRSS") for name, p in stack.processes.items()}})
    fill_seconds = time.perf_counter() - started
    wait_caught_up(stack, timeout=1800)
    time.sleep(2)
    memory = {name: process_memory_mb(p.pid) for name, p in stack.processes.items()}
    return {"events_through_intake": int(intake_accepted(stack)), "filled": posted, "fill_seconds": fill_seconds,
            "rss_trend_mb": trend, "memory_mb": memory}

