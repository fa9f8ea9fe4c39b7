"""What the fault drills share: a lab that retries like a real one, figure and webhook checks.

A drill drives the real chain (three service processes, the real broker and PostgreSQL), breaks
one part while events flow, and ends with exact checks:

- every event got a 202 in the end, and the figures count each distinct event exactly once (never
  more, also while the drill runs: a watcher records the largest denominator it ever saw);
- nothing went to the dead-letter table;
- every webhook the receiver acknowledged (2xx) carries a delivery_id acknowledged once, and each
  alert got exactly one notification per state change: the notices the receiver saw match the
  alert service's own delivery log, and no (state, severity) notice repeats within an episode.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devtools.launcher import ServiceProcesses
from shared.signing import verify_signature
from tests.support import ReceivedWebhook, WebhookReceiver, wait_for

CST = dt.timezone(dt.timedelta(hours=8))
SECRET = "drill-webhook-secret-0001"
INDICATOR = "agri_sampling_pass_rate"
CITY = "320500"  # Suzhou; every drill event lies here, so the province figure counts the same events
CATEGORY = "vegetables"
LAB_ID = "LAB-3205"
# The pass-rate alerts the drills' data raises at least: Suzhou and the province (and, when the
# catalogue alerts on categories, the same per category).
DRILL_ALERTS = {(CITY, None), ("320000", None)}

# Time-driven parts made fast; retries within seconds, evaluation every second.
FAST_ENV = {
    "QW_RETRY_INITIAL_SECONDS": "0.5",
    "QW_RETRY_MAX_SECONDS": "2",
    "QW_EVALUATION_INTERVAL_SECONDS": "1",
    "QW_RECOMPUTE_INTERVAL_SECONDS": "2",
    "QW_DELIVERY_POLL_SECONDS": "0.2",
    "QW_DELIVERY_TIMEOUT_SECONDS": "2",
    "QW_PUBLISH_TIMEOUT_SECONDS": "3",
    "QW_ALERT_RESOLVE_FOR_SECONDS": "0",
    "QW_LOG_LEVEL": "INFO",
}


def inspections(prefix: str, count: int, *, start: int = 0, region: str = CITY) -> list[dict[str, Any]]:
    """``count`` inspection results, every second one a failure: any 30 or more of them breach 97 %.

    Half failing keeps every figure far below target whatever subset has been applied so far, so
    each alert goes straight from nothing to firing/critical: exactly one notification each.
    """
    occurred = (dt.datetime.now(CST) - dt.timedelta(hours=2)).isoformat()
    return [{
        "event_id": f"{prefix}-{n:06d}", "type": "inspection.completed", "occurred_at": occurred, "lab_id": LAB_ID,
        "data": {"sample_id": f"{prefix}-S{n:06d}", "programme": "agri-routine-monitoring", "category": CATEGORY,
                 "region": region, "verdict": "fail" if n % 2 else "pass"},
    } for n in range(start, start + count)]


def batches(events: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [list(events[i:i + size]) for i in range(0, len(events), size)]


def passes(events: Iterable[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["data"]["verdict"] == "pass")


@dataclass
class Lab:
    """Posts batches until each gets its 202, as a lab's uploader would.

    503 → waits ``Retry-After`` (capped at ``max_wait`` so a drill stays short) and retries; other
    5xx, connection errors and timeouts → short pause and retry. Any other 4xx is a failure.
    """

    url: Callable[[], str]
    token: str
    max_wait: float = 1.0
    give_up: float = 120.0
    statuses: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    duplicates: int = 0
    acked_ids: set[str] = field(default_factory=set)
    posted_batches: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def post(self, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
        deadline = time.monotonic() + self.give_up
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            assert time.monotonic() < deadline, f"batch not accepted within {self.give_up}s: {self.statuses}"
            try:
                response = httpx.post(f"{self.url()}/v1/events/batch", json={"events": list(events)},
                                      headers=headers, timeout=20)
            except httpx.HTTPError as exc:
                self._count(type(exc).__name__)
                time.sleep(0.2)
                continue
            self._count(str(response.status_code))
            if response.status_code == 202:
                body = response.json()
                with self._lock:
                    self.accepted += body["accepted"]
                    self.duplicates += body["duplicates"]
                    self.acked_ids.update(e["event_id"] for e in events)
                    self.posted_batches += 1
                return body
            if response.status_code == 503:
                assert "retry-after" in response.headers, f"503 without Retry-After: {response.text}"
                time.sleep(min(float(response.headers["retry-after"]), self.max_wait))
                continue
            if response.status_code == 500:
                raise AssertionError(f"intake answered 500 (a fault is a 503 + Retry-After): {response.text[:500]}")
            if response.status_code >= 500:
                time.sleep(0.2)
                continue
            raise AssertionError(f"batch refused with {response.status_code}: {response.text[:2000]}")

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.statuses[outcome] += 1


class Feeder:
    """Posts batches from a background thread (one or more senders), so a drill can break things meanwhile."""

    def __init__(self, lab: Lab, work: Sequence[Sequence[dict[str, Any]]], *, senders: int = 1,
                 pause: float = 0.0) -> None:
        self.lab = lab
        self._work = list(work)
        self._next = 0
        self._lock = threading.Lock()
        self._pause = pause
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._run, name=f"drill-feeder-{i}", daemon=True)
                         for i in range(senders)]

    def start(self) -> Feeder:
        for thread in self._threads:
            thread.start()
        return self

    def _take(self) -> Sequence[dict[str, Any]] | None:
        with self._lock:
            if self._next >= len(self._work):
                return None
            self._next += 1
            return self._work[self._next - 1]

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self.lab.post(batch)
                if self._pause:
                    time.sleep(self._pause)
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.errors.append(exc)

    @property
    def done_batches(self) -> int:
        return self.lab.posted_batches

    def join(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), f"feeder still running after {timeout}s"
        if self.errors:
            raise self.errors[0]


@dataclass
class Chain:
    """A stack with a lab key, an agri agency key and (optionally) an agri webhook subscription."""

    stack: ServiceProcesses
    lab_key: str
    agency_key: str
    indicators_url: Callable[[], str] | None = None

    @classmethod
    def start(cls, stack: ServiceProcesses, receiver_url: str | None = None) -> Chain:
        """Start the stack: intake and alerts first, keys and the subscription, then indicators.

        Indicators publishes figures (quota pace and the like) right after it starts, and alerts
        may fire on them at once; an agency that subscribes later is not told about alerts already
        firing. Subscribing first makes every agri alert one the receiver must hear about."""
        stack.start("intake", "alerts")
        chain = cls.set_up(stack, receiver_url)
        stack.start("indicators")
        return chain

    @classmethod
    def set_up(cls, stack: ServiceProcesses, receiver_url: str | None = None) -> Chain:
        with stack.client("intake") as admin:
            lab_key = admin.post("/v1/api-keys", json={"role": "lab", "lab_id": LAB_ID}).json()["api_key"]
            agency_key = admin.post("/v1/api-keys", json={"role": "agency", "agency_id": "agri"}).json()["api_key"]
        if receiver_url is not None:
            with stack.client("alerts", agency_key) as agency:
                created = agency.post("/v1/agencies/agri/subscriptions",
                                      json={"url": receiver_url, "secret": SECRET, "min_severity": "warning"})
                assert created.status_code == 201, created.text
        return cls(stack, lab_key, agency_key)

    def lab(self) -> Lab:
        return Lab(lambda: self.stack.url("intake"), self.lab_key)

    def indicators(self) -> str:
        return self.indicators_url() if self.indicators_url else self.stack.url("indicators")

    def figure(self, region: str = CITY, category: str | None = None, window: str = "30d") -> dict[str, Any]:
        params = {"region": region, "window": window, **({"category": category} if category else {})}
        response = httpx.get(f"{self.indicators()}/v1/indicators/{INDICATOR}", params=params,
                             headers={"Authorization": f"Bearer {self.agency_key}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def dead_letters(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.indicators()}/v1/dead-letters", params={"include_replayed": "true"},
                             headers={"Authorization": f"Bearer {self.stack.admin_token}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["dead_letters"]


class FigureWatch:
    """Polls a figure in the background and keeps the largest counts ever seen (to catch doubles)."""

    def __init__(self, chain: Chain, region: str = CITY, interval: float = 0.3) -> None:
        self.chain = chain
        self.region = region
        self.interval = interval
        self.max_denominator = 0
        self.max_numerator = 0
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-figure-watch", daemon=True)

    def start(self) -> FigureWatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                figure = self.chain.figure(self.region)
            except (httpx.HTTPError, AssertionError, ValueError):
                figure = None  # the service may be down on purpose
            if figure is not None:
                self.reads += 1
                self.max_denominator = max(self.max_denominator, figure["denominator"] or 0)
                self.max_numerator = max(self.max_numerator, figure["numerator"] or 0)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def assert_exact_figures(chain: Chain, events: Sequence[dict[str, Any]], *, timeout: float = 60,
                         watch: FigureWatch | None = None, settle: float = 2.0) -> dict[str, Any]:
    """The figures count every distinct event exactly once: city, city+category and province."""
    expected = (passes(events), len(events))
    assert len({e["event_id"] for e in events}) == len(events), "the drill's own events must be distinct"

    def caught_up() -> dict[str, Any] | None:
        figure = chain.figure(CITY)
        assert figure["denominator"] <= expected[1], f"counted more than was accepted: {figure} vs {expected}"
        return figure if figure["denominator"] == expected[1] else None

    try:
        wait_for(caught_up, timeout=timeout, what=f"the city figure to count {expected[1]} events")
    except AssertionError as exc:
        logs = "\n".join(line[:400] for line in chain.stack.log_tail("indicators", 30).splitlines())
        raise AssertionError(f"{exc}\nlast figure: {chain.figure(CITY)}\nindicators log:\n{logs}") from exc
    time.sleep(settle)  # a window in which a late double count would show up
    city = chain.figure(CITY)
    by_category = chain.figure(CITY, CATEGORY)
    province = chain.figure("320000")
    for figure in (city, by_category, province):
        assert (figure["numerator"], figure["denominator"]) == expected, figure
    assert city["status"] == "breach", city
    if watch is not None:
        watch.stop()
        assert watch.max_denominator <= expected[1], (watch.max_denominator, expected)
        assert watch.max_numerator <= expected[0], (watch.max_numerator, expected)
    assert chain.dead_letters() == []
    return city


def assert_lab_accounting(lab: Lab, events: Sequence[dict[str, Any]], *, exact: bool = True) -> None:
    """Every event was acknowledged; intake's own counts add up (exact unless answers were lost)."""
    assert lab.acked_ids == {e["event_id"] for e in events}
    if exact:
        assert (lab.accepted, lab.duplicates) == (len(events), 0), (lab.accepted, lab.duplicates, lab.statuses)
    else:
        # A request whose answer was lost (intake killed after recording) is re-sent and reported as
        # duplicates; a request killed after publishing but before recording is accepted again (and
        # de-duplicated downstream). Either way every event was accepted at least once.
        assert lab.accepted >= len(events) - lab.duplicates, (lab.accepted, lab.duplicates, lab.statuses)


def metric_total(base_url: str, name: str) -> float:
    """The sum of a metric's samples on a service's /metrics page (0 when absent)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def operator(stack: ServiceProcesses, name: str, alerts_url: str | None = None) -> httpx.Client:
    base = alerts_url or stack.url(name)
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=10)


def agri_alerts(stack: ServiceProcesses) -> list[dict[str, Any]]:
    with operator(stack, "alerts") as client:
        response = client.get("/v1/alerts", params={"state": "all"})
        assert response.status_code == 200, response.text
        return [a for a in response.json()["alerts"] if "agri" in a["agencies"]]


def alert_detail(stack: ServiceProcesses, alert_id: str) -> dict[str, Any]:
    with operator(stack, "alerts") as client:
        response = client.get(f"/v1/alerts/{alert_id}")
        assert response.status_code == 200, response.text
        return response.json()


def deliveries(stack: ServiceProcesses, status: str | None = None) -> list[dict[str, Any]]:
    with operator(stack, "alerts") as client:
        params = {"limit": 1000, **({"status": status} if status else {})}
        response = client.get("/v1/deliveries", params=params)
        assert response.status_code == 200, response.text
        return response.json()["deliveries"]


def wait_all_notified(stack: ServiceProcesses, receivers: Sequence[WebhookReceiver], *, skip: int = 0,
                      timeout: float = 60, settle: float = 2.0) -> list[ReceivedWebhook]:
    """Wait until every firing agri alert reached a receiver and no delivery is pending; then a
    short settle window (a duplicate would arrive in it). Returns the acknowledged webhooks."""
    last: dict[str, Any] = {}

    def settled() -> bool:
        alerts = [a for a in agri_alerts(stack) if a["state"] == "firing"]
        firing = {a["alert_id"] for a in alerts}
        ours = {(a["region"], a["category"]) for a in alerts if a["indicator"] == INDICATOR}
        carried = {a["alert_id"] for h in acked_hooks(receivers, skip) for a in h.json["alerts"]}
        pending = deliveries(stack, "pending")
        last.update(firing=sorted(firing), ours=sorted(ours, key=str), carried=sorted(carried), pending=pending)
        return ours >= DRILL_ALERTS and firing <= carried and not pending

    try:
        wait_for(settled, timeout=timeout, what="every firing agri alert to be delivered")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{last}\nalerts log:\n{stack.log_tail('alerts', 60)}") from exc
    time.sleep(settle)
    assert settled(), "deliveries still moving after the settle window"
    return acked_hooks(receivers, skip)


def assert_one_notification_per_change(stack: ServiceProcesses, acked: Sequence[ReceivedWebhook], *,
                                       expect_alerts: int | None = None) -> dict[str, list[tuple[str, str]]]:
    """Acknowledged webhooks vs the alert service's records: no delivery twice, no notice twice."""
    for hook in acked:
        assert verify_signature(hook.headers["x-qw-signature"], hook.body, SECRET)
        assert hook.headers["idempotency-key"] == hook.json["delivery_id"]
    per_delivery = Counter(h.json["delivery_id"] for h in acked)
    doubled = {d: c for d, c in per_delivery.items() if c != 1}
    assert not doubled, f"delivery_ids acknowledged more than once: {doubled}"

    notices: dict[str, list[tuple[str, str]]] = defaultdict(list)  # alert_id → [(state, severity)]
    carried_by: dict[str, set[str]] = defaultdict(set)
    for hook in sorted(acked, key=lambda h: h.received_at):
        for alert in hook.json["alerts"]:
            notices[alert["alert_id"]].append((alert["state"], alert["severity"]))
            carried_by[alert["alert_id"]].add(hook.json["delivery_id"])

    alerts = agri_alerts(stack)
    firing = [a for a in alerts if a["state"] == "firing"]
    if expect_alerts is not None:
        assert len(firing) == expect_alerts, [(a["region"], a["category"], a["window"]) for a in firing]
    assert set(notices) == {a["alert_id"] for a in alerts}, "every agri alert, and only those, was notified"
    for alert in alerts:
        detail = alert_detail(stack, alert["alert_id"])
        logged = {d["delivery_id"] for d in detail["deliveries"] if d["status"] == "delivered"}
        assert carried_by[alert["alert_id"]] == logged, (alert["alert_id"], carried_by[alert["alert_id"]], logged)
        seen = notices[alert["alert_id"]]
        repeats = [n for n, c in Counter(seen).items() if c > 1]
        assert not repeats, f"alert {alert['alert_id']} notified twice for the same change: {seen}"
        changes = [t for t in detail["transitions"]
                   if (t["from_state"], t["from_severity"]) != (t["to_state"], t["to_severity"])]
        assert len(seen) <= len(changes), (seen, changes)
    return dict(notices)


def assert_single_firing_notice_each(stack: ServiceProcesses, notices: dict[str, list[tuple[str, str]]]) -> int:
    """The drill's data breaches at once: each of its alerts (the pass rate in Suzhou and the
    province, each evaluated window and category) got exactly one notice, firing/critical.
    Returns how many such alerts there are."""
    ours = [a for a in agri_alerts(stack) if a["indicator"] == INDICATOR]
    found = {(a["region"], a["category"]) for a in ours}
    assert found >= DRILL_ALERTS and {r for r, _ in found} == {CITY, "320000"}, sorted(
        (a["region"], a["category"], a["window"], a["state"], a["severity"]) for a in ours)
    for alert in ours:
        assert alert["state"] == "firing" and alert["severity"] == "critical", alert
        assert notices[alert["alert_id"]] == [("firing", "critical")], (alert, notices[alert["alert_id"]])
    return len(ours)


def acked_hooks(receivers: Iterable[WebhookReceiver], skip: int = 0) -> list[ReceivedWebhook]:
    """Webhooks the receivers answered 200 (drills that answer 500 for a while pass ``skip``)."""
    hooks = [h for r in receivers for h in r.snapshot()]
    return hooks[skip:]


def assert_ends_exact(chain: Chain, stack: ServiceProcesses, events: list[dict[str, Any]], *, watch: FigureWatch,
                      receiver: WebhookReceiver) -> Any:
    """How every drill ends: figures count each accepted event exactly once (and never went above
    that while the fault lasted), and each alert state change reached the agency exactly once."""
    assert_exact_figures(chain, events, watch=watch, timeout=90)
    notices = assert_one_notification_per_change(stack, wait_all_notified(stack, [receiver]))
    assert_single_firing_notice_each(stack, notices)
    return notices


@dataclass
class Load:
    """A drill's running setup: a fresh stack's chain, a lab feeding ``events`` through ``feeder``, and
    a watch recording the largest figure seen while the fault lasts."""

    stack: ServiceProcesses
    chain: Chain
    events: list[dict[str, Any]]
    lab: Lab
    watch: FigureWatch
    feeder: Feeder
    receiver: WebhookReceiver

    def wait_first_batches(self) -> None:
        """Wait until intake accepted the first few batches, so that the fault strikes mid-ingest."""
        wait_for(lambda: self.feeder.done_batches >= 5, timeout=30, what="the first batches to be accepted")

    def assert_ends_exact(self) -> Any:
        """``assert_ends_exact`` over this load's chain, events, watch and receiver."""
        return assert_ends_exact(self.chain, self.stack, self.events, watch=self.watch, receiver=self.receiver)
