"""The demo lab feed: realistic Jiangsu lab activity posted through the real intake API.

    python -m devtools.demo --intake-url http://127.0.0.1:8001 --token "$QW_ADMIN_TOKEN" [--speed 60]
        [--duration 0] [--seed 1] [--backfill-days 30]

With the operator token it creates one lab key per demo lab (LAB-3201 … LAB-3213 and two provincial
labs), posts a quick backfill of the last ``--backfill-days`` days of history at the province's real
pace (working hours, weekdays, a lunch dip; figures reported monthly), then keeps posting live activity:
the same working day played ``--speed`` times faster (60: a day in 24 minutes, so the dashboard moves
within minutes while an hour of live feed adds only two and a half days of activity; ``--duration 0``:
until interrupted). Xuzhou's (320300) agricultural pass rate drifts below the plan's 97 % over the last
three weeks of history and on into the live feed: its 30-day figure is at risk when the backfill lands
(a warning alert a minute later) and slides into breach during the live feed. The events come from the
pure generator in ``devtools.demo_data``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devtools.demo_data import CST, DEFAULT_SPEED, Drift, Rectification, generate_events, lab_ids, lab_regions
from devtools.demo_loop import LoopDirector
from shared.catalogue import Catalogue, load_catalogue
from shared.settings import DEFAULT_CATALOGUE

__all__ = ["DemoFeed", "FeedStats", "generate_events", "lab_ids", "main"]

logger = logging.getLogger("qw.demo")


class FeedError(Exception):
    """The feed cannot go on (intake unreachable at start, or the token is refused)."""


@dataclass
class FeedStats:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    batches: int = 0
    retries: int = 0
    posted: int = 0
    last_event_at: str | None = None

    def line(self, phase: str) -> str:
        return (f"demo feed ({phase}): posted={self.posted} accepted={self.accepted} duplicates={self.duplicates} "
                f"rejected={self.rejected} conflicts={self.conflicts} batches={self.batches} retries={self.retries} "
                f"last_event_at={self.last_event_at or '-'}")


class DemoFeed:
    def __init__(self, *, intake_url: str, token: str, catalogue: Catalogue, speed: float = DEFAULT_SPEED,
                 duration: float = 0.0, seed: int = 1, backfill_days: float = 30.0, batch_size: int = 500,
                 flush_interval: float = 1.0, log_interval: float = 10.0, wait_for_intake: float = 60.0,
                 client: httpx.Client | None = None, alerts_url: str | None = None, auto_plan: bool = True,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not 0 <= backfill_days <= 390:
            raise ValueError("backfill_days must be between 0 and 390 (the intake's grace period is 400 days)")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.url = intake_url.rstrip("/")
        self.token = token
        self.catalogue = catalogue
        self.speed, self.duration, self.seed = speed, duration, seed
        self.backfill = dt.timedelta(days=backfill_days)
        self.batch_size, self.flush_interval, self.log_interval = batch_size, flush_interval, log_interval
        self.wait_for_intake = wait_for_intake
        self.client = client or httpx.Client(timeout=30.0)
        self.now, self.sleep = now, sleep
        self.stats = FeedStats()
        self.lab_keys: dict[str, str] = {}
        # Issue 19: the rectification loop of Xuzhou's alert (only with an alerts URL) and one overdue report.
        self.rectification = Rectification()
        self.director = LoopDirector(client=self.client, alerts_url=alerts_url, token=token,
                                     rectification=self.rectification, now=now,
                                     auto_plan=auto_plan, post=self.post) if alerts_url else None
        self._last_log = time.monotonic()

    # ---- set-up --------------------------------------------------------------------------------
    def await_intake(self) -> None:
        deadline = time.monotonic() + self.wait_for_intake
        while True:
            try:
                if self.client.get(f"{self.url}/readyz").status_code == 200:
                    return
                problem = "not ready"
            except httpx.TransportError as exc:
                problem = f"unreachable ({exc})"
            if time.monotonic() >= deadline:
                raise FeedError(f"intake at {self.url} is {problem}")
            logger.info("waiting for intake at %s: %s", self.url, problem)
            self.sleep(1.0)

    def create_lab_keys(self, labs: Iterable[str] = ()) -> dict[str, str]:
        """One lab key per demo lab (a city lab accredited for its city), created with the operator token."""
        for lab in labs or lab_ids():
            body: dict[str, Any] = {"role": "lab", "lab_id": lab, "name": f"demo feed {lab}"}
            if (regions := lab_regions(lab)) is not None:
                body["regions"] = regions
            self.lab_keys[lab] = self._create_key(lab, body)
        return self.lab_keys

    def key_for(self, sender: str) -> str:
        """The key a batch of ``sender`` (a lab, or an agency for its statements) is posted with; an agency's
        key is created on first use."""
        key = self.lab_keys.get(sender)
        if key is None and sender in self.catalogue.agency_ids():
            key = self.lab_keys[sender] = self._create_key(
                sender, {"role": "agency", "agency_id": sender, "name": f"demo feed {sender}"})
        return key or self.token

    def _create_key(self, who: str, body: dict[str, Any]) -> str:
        try:
            response = self.client.post(f"{self.url}/v1/api-keys", headers=self._auth(self.token), json=body)
        except httpx.TransportError as exc:
            raise FeedError(f"cannot reach intake at {self.url}: {exc}") from exc
        if response.status_code != 201:
            raise FeedError(f"creating a key for {who} failed: {response.status_code} {_detail(response)}")
        return str(response.json()["api_key"])

    # ---- the feed ------------------------------------------------------------------------------
    def events(self, started: dt.datetime) -> Iterable[dict[str, Any]]:
        end = started + dt.timedelta(seconds=self.duration) if self.duration > 0 else None
        tag = f"{started.astimezone(dt.UTC):%y%m%d%H%M%S}s{self.seed}"
        return generate_events(random.Random(self.seed), started - self.backfill, end, catalogue=self.catalogue,
                               live_from=started, speed=self.speed, drift=Drift(), run_tag=tag,
                               rectification=self.rectification, leave_overdue=self.director is not None)

    def run(self) -> FeedStats:
        self.await_intake()
        if not self.lab_keys:
            self.create_lab_keys()
        started = self.now()
        logger.info("demo feed: %d lab keys ready; backfilling %g days of history, then live at %g× the province's "
                    "pace (a working day in %.0f minutes)%s",
                    len(self.lab_keys), self.backfill / dt.timedelta(days=1), self.speed, 1440 / self.speed,
                    f" for {self.duration:g} s" if self.duration > 0 else " until interrupted")
        logger.info("hint: to receive alerts, subscribe a webhook, e.g. `qw subscriptions add agri --url "
                    "https://example.org/hook --secret <16+ chars>`; Xuzhou (320300) agri pass rate is at risk "
                    "when the backfill lands and slides into breach during the live feed")
        buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        last_flush = time.monotonic()
        phase = "backfill"
        try:
            for event in self.events(started):
                due = dt.datetime.fromisoformat(event["occurred_at"])
                while due > self.now():
                    phase = "live"
                    self._flush_all(buffers)
                    last_flush = time.monotonic()
                    self._maybe_log(phase)
                    if self.director is not None:
                        self.director.poll()
                    self.sleep(min(max((due - self.now()).total_seconds(), 0.01), self.flush_interval))
                buffer = buffers[event["lab_id"]]
                buffer.append(event)
                if len(buffer) >= self.batch_size:
                    self.post(event["lab_id"], buffer)
                    buffer.clear()
                if time.monotonic() - last_flush >= self.flush_interval:
                    self._flush_all(buffers)
                    last_flush = time.monotonic()
                self._maybe_log(phase)
            self._flush_all(buffers)
        except KeyboardInterrupt:
            logger.info("interrupted; posting what is buffered")
            self._flush_all(buffers)
        logger.info(self.stats.line("done"))
        return self.stats

    def _flush_all(self, buffers: dict[str, list[dict[str, Any]]]) -> None:
        for lab, buffer in buffers.items():
            if buffer:
                self.post(lab, buffer)
                buffer.clear()

    def _maybe_log(self, phase: str) -> None:
        if time.monotonic() - self._last_log >= self.log_interval:
            self._last_log = time.monotonic()
            logger.info(self.stats.line(phase))

    def post(self, lab: str, events: Sequence[dict[str, Any]]) -> None:
        """Post one batch as its lab; retry 503/429 (after Retry-After) and lost connections until accepted."""
        body = {"events": list(events)}
        headers = self._auth(self.key_for(lab))
        backoff = 0.5
        while True:
            try:
                response = self.client.post(f"{self.url}/v1/events/batch", json=body, headers=headers)
            except httpx.TransportError as exc:
                wait, why = backoff, f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 202:
                    result = response.json()
                    self.stats.accepted += int(result.get("accepted", 0))
                    self.stats.duplicates += int(result.get("duplicates", 0))
                    break
                if status in (401, 403):
                    raise FeedError(f"intake refused {lab}'s key: {status} {_detail(response)}")
                if status in (409, 413, 422, 400):
                    self.stats.rejected += len(events) if status != 409 else 0
                    self.stats.conflicts += len(events) if status == 409 else 0
                    logger.error("batch of %d from %s refused: %s %s", len(events), lab, status, _detail(response))
                    break
                wait = _retry_after(response) or backoff
                why = f"{status} {_detail(response)}"
            self.stats.retries += 1
            logger.warning("intake: %s; retrying a batch of %d from %s in %.1f s", why, len(events), lab, wait)
            self.sleep(wait)
            backoff = min(backoff * 2, 30.0)
        self.stats.batches += 1
        self.stats.posted += len(events)
        self.stats.last_event_at = events[-1]["occurred_at"]

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(float(response.headers.get("retry-after", "")), 0.1)
    except ValueError:
        return None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:500]


def backfill_days(text: str, *, now: dt.datetime | None = None) -> float:
    """A number of days, or ``ytd``: from 1 January (China Standard Time) to now."""
    if text.strip().lower() == "ytd":
        local = (now or dt.datetime.now(dt.UTC)).astimezone(CST)
        start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return min((local - start) / dt.timedelta(days=1), 390.0)
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days or 'ytd': {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--intake-url", default=os.environ.get("QW_INTAKE_URL", "http://127.0.0.1:8001"))
    p.add_argument("--token", default=os.environ.get("QW_TOKEN") or os.environ.get("QW_ADMIN_TOKEN"),
                   help="an operator token (default: $QW_TOKEN, else $QW_ADMIN_TOKEN)")
    p.add_argument("--speed", type=float, default=DEFAULT_SPEED,
                   help="live: the province's working day played this many times faster (60: a day in 24 min)")
    p.add_argument("--duration", type=float, default=0.0, help="seconds of live feed; 0 = until interrupted")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--backfill-days", type=backfill_days, default=30.0,
                   help="days of history posted first (30; 0 = none; 'ytd' = since 1 January, which also "
                        "puts the year-to-date sampling coverage on pace)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--catalogue", type=Path, default=Path(os.environ.get("QW_CATALOGUE_PATH", DEFAULT_CATALOGUE)))
    p.add_argument("--alerts-url", default=os.environ.get("QW_ALERTS_URL"),
                   help="the alert service; with it the feed plays the rectification loop of Xuzhou's alert "
                        "(QW_DEMO_PLAN=0: the plan is left to a person) and leaves one city report overdue")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for intake to become ready (60)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the summaries
    if not args.token:
        print("demo: an operator token is needed: --token or QW_TOKEN / QW_ADMIN_TOKEN", file=sys.stderr)
        return 2
    try:
        feed = DemoFeed(intake_url=args.intake_url, token=args.token, catalogue=load_catalogue(args.catalogue),
                        speed=args.speed, duration=args.duration, seed=args.seed, backfill_days=args.backfill_days,
                        batch_size=args.batch_size, wait_for_intake=args.wait, alerts_url=args.alerts_url,
                        auto_plan=os.environ.get("QW_DEMO_PLAN", "1") != "0")
        feed.run()
    except (FeedError, ValueError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
