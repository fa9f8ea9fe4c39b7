"""``make bench-province`` = ``python -m bench.province [--years 1|5] [--scale F]``: a province's years of data.

One run on this machine, with its own Kafka broker and PostgreSQL (``LocalKafka``, ``LocalPostgres``) and the
three services as processes (``devtools.launcher.ServiceProcesses``, production timings):
  1. accept→webhook of one breach, on the empty store (its events are the peer's too);
  2. the history: ``--years`` of Jiangsu at 600,000 inspections a year (× ``--scale``) with their sample
     collections, revisions, acceptances, surveys, milestones and monthly reported figures
     (``devtools.demo_data``, seeded), posted through intake's batch API; ingest rate and the time until
     indicators has applied every event (every figure current);
  3. reads at that size, p50/p95: figures (province, city, county × 30d, 365d, a calendar year × all
     categories and one), the scorecard per window, the annual quality report, the dashboard's first
     complete render in headless Chromium;
  4. the peer (bench/province_peer.py): the same pass-rate figures by SQL GROUP BY over a raw-events table
     in the same PostgreSQL, asserted equal to ours, with the time ratio per query;
  5. freshness: accept→visible at ``--fresh-rate`` events/s for ``--fresh-seconds``;
  6. catch-up: indicators stopped while ``--catch-up`` events arrive, then started (one instance, then two
     in one consumer group): time until lag 0, figure reads p95 meanwhile, totals exact;
  7. each service's peak RSS, sampled from /proc every 0.5 s throughout.
Prints the table with every goal marked met or not, writes ``bench/results/province-<UTC timestamp>.json``;
exits 1 when the peer's numbers differ from ours or a catch-up total is not exact.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import prom
from bench.bench_intake import ADMIN
from bench.load import paced_run, post_batches
from bench.machine import describe, load_average, machine_info, process_memory_mb
from bench.province_peer import Counts, Peer, PeerFile
from bench.report import Row, render
from bench.system import PROCESSED, intake_accepted, subscribe, wait_caught_up, webhook_trial
from devtools.demo_data import generate_events, samples_per_day
from devtools.launcher import ServiceProcesses
from devtools.ports import free_port
from shared.catalogue import Catalogue, load_catalogue
from shared.settings import DEFAULT_CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CST = dt.timezone(dt.timedelta(hours=8))
INSPECTIONS_PER_YEAR = 600_000
BATCH = 1000
AGRI = "agri_sampling_pass_rate"
SPOT = "national_spot_check_pass_rate"
PROVINCE, CITY, COUNTY = "320000", "320500", "320506"  # Jiangsu; Suzhou; Wuzhong district
CATEGORY = "vegetables"
LATENCY_HISTOGRAM = "qw_indicators_event_latency_seconds"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- small measuring tools -------------------------------------------------------------------
def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


def timings(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_s": quantile(values, 0.5), "p95_s": quantile(values, 0.95),
            "p99_s": quantile(values, 0.99), "max_s": max(values) if values else None}


def timed(call: Callable[[], Any], times: int) -> tuple[list[float], Any]:
    """Call ``times`` times; the seconds of each call and the first call's answer."""
    seconds: list[float] = []
    first: Any = None
    for i in range(times):
        started = time.perf_counter()
        answer = call()
        seconds.append(time.perf_counter() - started)
        if i == 0:
            first = answer
    return seconds, first


class RssSampler(threading.Thread):
    """Samples VmRSS of every service process (of every stack given) every ``interval`` s; keeps the peak."""

    def __init__(self, stacks: list[ServiceProcesses], interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.stacks = stacks
        self.interval = interval
        self.peak: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for i, stack in enumerate(list(self.stacks)):
            for name, process in list(stack.processes.items()):
                if process.poll() is None:
                    rss = process_memory_mb(process.pid).get("VmRSS")
                    key = name if i == 0 else f"{name} #{i + 1}"
                    if rss is not None:
                        self.peak[key] = max(self.peak.get(key, 0.0), rss)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(5)
        self.sample()


def disk_mb(work: Path, database_url: str) -> dict[str, float]:
    """Kafka's log folder and the services' database (before the peer's table), in MB."""
    from bench.province_peer import conninfo

    kafka = sum(f.stat().st_size for f in (work / "kafka").rglob("*") if f.is_file())
    with psycopg.connect(conninfo(database_url)) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return {"kafka": round(kafka / 2**20, 1), "postgres": round((row[0] if row else 0) / 2**20, 1)}


# ---- the history -----------------------------------------------------------------------------
def volume_for(catalogue: Catalogue, inspections_per_year: float) -> float:
    return inspections_per_year / (samples_per_day(catalogue) * 365)


def history(catalogue: Catalogue, *, seed: int, start: dt.datetime, end: dt.datetime, volume: float, tag: str
            ) -> Iterator[dict[str, Any]]:
    return generate_events(random.Random(seed), start, end, catalogue=catalogue, drift=None, run_tag=tag,
                           volume=volume)


def batches(events: Iterator[dict[str, Any]], peer: PeerFile | None, size: int = BATCH
            ) -> Iterator[list[dict[str, Any]]]:
    """Batches for intake; each also written to the peer's COPY file."""
    while batch := list(itertools.islice(events, size)):
        if peer is not None:
            peer.add(batch)
        yield batch


@dataclass
class Tally:
    """What a list of events does to the inspection pass-rate figures (latest revision per sample)."""

    latest: dict[str, tuple[int, str, str, dt.datetime]] = field(default_factory=dict)

    def add(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] != "inspection.completed":
                continue
            d = event["data"]
            revision = d.get("revision", 1)
            current = self.latest.get(d["sample_id"])
            if current is None or revision > current[0]:
                self.latest[d["sample_id"]] = (revision, d["programme"], d["verdict"],
                                               dt.datetime.fromisoformat(event["occurred_at"]))

    def counts(self, programme: str, start: dt.datetime, end: dt.datetime) -> Counts:
        rows = [v for _, p, v, at in self.latest.values() if p == programme and start <= at < end]
        return Counts(sum(v == "pass" for v in rows), len(rows))


# ---- reads -----------------------------------------------------------------------------------
def window_of(figure: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.fromisoformat(figure["window_start"]), dt.datetime.fromisoformat(figure["window_end"])


def counts_of(figure: dict[str, Any]) -> Counts:
    return Counts(int(figure.get("numerator") or 0), int(figure.get("denominator") or 0))


@dataclass
class Comparison:
    rows: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def check(self, what: str, ours: Counts, peer: Counts) -> None:
        if ours != peer:
            self.mismatches.append(f"{what}: ours {ours.passes}/{ours.total}, peer {peer.passes}/{peer.total}")


def figure_reads(client: httpx.Client, peer: Peer, args: argparse.Namespace, year: str,
                 comparison: Comparison) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for (level, region), window, category in itertools.product(
            (("province", PROVINCE), ("city", CITY), ("county", COUNTY)), ("30d", "365d", year), (None, CATEGORY)):
        params = {"region": region, "window": window, **({"category": category} if category else {})}

        def ours(params: dict[str, str] = params) -> dict[str, Any]:
            response = client.get(f"/v1/indicators/{AGRI}", params=params)
            response.raise_for_status()
            return response.json()

        seconds, figure = timed(ours, args.reads)
        start, end = window_of(figure)
        peer_seconds, peer_counts = timed(lambda: peer.figure(AGRI, region, category, start, end),  # noqa: B023
                                          args.peer_reads)
        name = f"figure {level} {window} {category or 'all'}"
        comparison.check(name, counts_of(figure), peer_counts)
        out.append({"name": name, "ours": timings(seconds), "peer": timings(peer_seconds),
                    "numerator": figure["numerator"], "denominator": figure["denominator"]})
        log(f"{name}: p50 {ms(out[-1]['ours']['p50_s'])} p95 {ms(out[-1]['ours']['p95_s'])}; "
            f"peer p50 {ms(out[-1]['peer']['p50_s'])}; n={figure['denominator']}")
    return out


def scorecard_reads(client: httpx.Client, peer: Peer, args: argparse.Namespace, windows: tuple[str, ...],
                    comparison: Comparison) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for window in windows:
        def ours(window: str = window) -> dict[str, Any]:
            response = client.get("/v1/scorecard", params={"window": window})
            response.raise_for_status()
            return response.json()

        seconds, card = timed(ours, args.scorecard_reads)
        figures = {(row["indicator"], f["region"]): f for row in card["indicators"] for f in row["figures"]
                   if row["indicator"] in peer.programmes}
        start, end = window_of(figures[(AGRI, PROVINCE)])
        peer_seconds, table = timed(lambda: peer.table(start, end), args.peer_reads)  # noqa: B023
        for (indicator, region), figure in figures.items():
            comparison.check(f"scorecard {window} {indicator} {region}", counts_of(figure),
                             table.get((indicator, region, None), Counts(0, 0)))
        out.append({"name": f"scorecard {window}", "ours": timings(seconds), "peer": timings(peer_seconds),
                    "compared_figures": len(figures)})
        log(f"scorecard {window}: p50 {ms(out[-1]['ours']['p50_s'])} p95 {ms(out[-1]['ours']['p95_s'])}; "
            f"peer p50 {ms(out[-1]['peer']['p50_s'])}")
    return out


def report_reads(client: httpx.Client, peer: Peer, args: argparse.Namespace, year: str,
                 comparison: Comparison) -> dict[str, Any]:
    def ours() -> str:
        response = client.get("/v1/reports/quality", params={"period": year}, timeout=120)
        response.raise_for_status()
        return response.text

    seconds, document = timed(ours, args.report_reads)
    card = client.get("/v1/scorecard", params={"window": year}).json()
    figures = {(row["indicator"], f["region"]): f for row in card["indicators"] for f in row["figures"]
               if row["indicator"] in peer.programmes}
    start, end = window_of(figures[(AGRI, PROVINCE)])
    peer_seconds, table = timed(lambda: peer.table(start, end, categories=True), args.peer_reads)
    for (indicator, region), figure in figures.items():
        comparison.check(f"report {year} {indicator} {region}", counts_of(figure),
                         table.get((indicator, region, None), Counts(0, 0)))
    for (indicator, region, category), counts in table.items():
        if category is not None and indicator == AGRI:
            figure = client.get(f"/v1/indicators/{indicator}",
                                params={"region": region, "window": year, "category": category}).json()
            comparison.check(f"report {year} {indicator} {region} {category}", counts_of(figure), counts)
    result: dict[str, Any] = {"name": f"annual report {year}", "ours": timings(seconds), "peer": timings(peer_seconds),
              "html_bytes": len(document.encode())}
    log(f"annual report {year}: p50 {ms(result['ours']['p50_s'])} p95 {ms(result['ours']['p95_s'])}; "
        f"peer p50 {ms(result['peer']['p50_s'])}")
    return result


def dashboard_renders(base: str, token: str, renders: int) -> dict[str, Any]:
    from tests.dashboard.cdp import Browser, find_chromium

    executable = find_chromium()
    if executable is None:
        return {"error": "no Chromium found (QW_CHROMIUM or chromium on PATH)", **timings([])}
    # dashboard.js marks the body once the scorecard and the alerts are in (whatever the page's language)
    done = ("document.body.dataset.rendered === '1'"
            " && document.querySelectorAll('#scorecard tbody td.cell[data-status]').length > 0")
    browser = Browser(executable)
    seconds = []
    try:
        for _ in range(renders):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(f"{base}/#token={token}")
            page.wait_for(done, timeout=60, what="the dashboard's first complete render")
            seconds.append(time.perf_counter() - started)
    finally:
        browser.close()
    return timings(seconds)


def ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 1000:,.1f} ms"


# ---- catch-up --------------------------------------------------------------------------------
class Reader(threading.Thread):
    """Reads figures one after another (province, city, county; 30d) until stopped, timing each."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True, name="catch-up-reader")
        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.seconds: list[float] = []
        self.failures = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        regions = itertools.cycle((PROVINCE, CITY, COUNTY))
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                ok = self.client.get(f"/v1/indicators/{AGRI}", params={"region": next(regions), "window": "30d"}
                                     ).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                self.seconds.append(time.perf_counter() - started)
            else:
                self.failures += 1
                time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)
        self.client.close()


def processed_and_lag(stacks: list[ServiceProcesses]) -> tuple[float, float]:
    processed = lag = 0.0
    for stack in stacks:
        samples = prom.scrape(stack.url("indicators"))
        processed += sum(prom.total(samples, name) for name in PROCESSED)
        lag += prom.total(samples, "qw_indicators_consumer_lag")
    return processed, lag


def catch_up(stack: ServiceProcesses, catalogue: Catalogue, args: argparse.Namespace, token: str, *,
             instances: int, tag: str, sampler: RssSampler) -> dict[str, Any]:
    """Stop indicators, post ``args.catch_up`` events, start ``instances`` indicator processes in one group;
    time until they have processed them all with no lag, reading figures meanwhile; check totals exact."""
    with stack.client("indicators", token) as client:
        before = {name: client.get(f"/v1/indicators/{name}", params={"region": PROVINCE, "window": "30d"}).json()
                  for name in (AGRI, SPOT)}
    stack.stop("indicators")
    now = dt.datetime.now(CST) - dt.timedelta(minutes=2)
    days = 20  # about two events per sample: enough volume that the 20 days hold the events asked for
    volume = 1.2 * args.catch_up / (2 * days * samples_per_day(catalogue))
    events = itertools.islice(history(catalogue, seed=args.seed + instances, start=now - dt.timedelta(days=days),
                                      end=now, volume=volume, tag=tag), args.catch_up)
    tally = Tally()

    def counted() -> Iterator[list[dict[str, Any]]]:
        for batch in batches(events, None):
            tally.add(batch)
            yield batch

    posted = post_batches(stack.url("intake"), ADMIN, counted())
    log(f"catch-up ×{instances}: {posted:,} events posted while indicators was stopped")
    extra: list[ServiceProcesses] = []
    for _ in range(instances - 1):
        other = ServiceProcesses(bootstrap=stack.bootstrap, database_url=stack.database_url,
                                 topic_prefix=stack.topic_prefix, data_dir=stack.data_dir / f"extra{len(extra)}",
                                 admin_token=stack.admin_token, timings=dict(stack.timings),
                                 extra_env=dict(stack.extra_env), ports={"indicators": free_port()})
        extra.append(other)
        sampler.stacks.append(other)
    started = time.perf_counter()
    try:
        stack.start("indicators")
        for other in extra:
            other.start("indicators")
        ready_seconds = time.perf_counter() - started
        reader = Reader(stack.url("indicators"), token)
        reader.start()
        deadline = time.monotonic() + args.catch_up_timeout
        try:
            while True:
                processed, lag = processed_and_lag([stack, *extra])
                if processed >= posted and lag == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"catch-up ×{instances}: processed {processed:,.0f} of {posted:,}, "
                                       f"lag {lag:,.0f}")
                time.sleep(0.2)
            seconds = time.perf_counter() - started
        finally:
            reader.stop()
    finally:
        for other in extra:
            other.stop()
            sampler.stacks.remove(other)
    with stack.client("indicators", token) as client:
        after = {name: client.get(f"/v1/indicators/{name}", params={"region": PROVINCE, "window": "30d"}).json()
                 for name in (AGRI, SPOT)}
    exact = {}
    for name, programme in ((AGRI, "agri-routine-monitoring"), (SPOT, "national-spot-check")):
        start, end = window_of(after[name])
        expected = tally.counts(programme, start, end)
        moved = Counts(counts_of(after[name]).passes - counts_of(before[name]).passes,
                       counts_of(after[name]).total - counts_of(before[name]).total)
        exact[name] = {"expected": [expected.passes, expected.total], "moved": [moved.passes, moved.total],
                       "exact": expected == moved}
    result: dict[str, Any] = {"instances": instances, "events": posted, "seconds": seconds, "rate": posted / seconds,
              "ready_seconds": ready_seconds, "drain_rate": posted / max(seconds - ready_seconds, 1e-9),
              "reads": timings(reader.seconds), "read_failures": reader.failures, "totals": exact,
              "exact": all(v["exact"] for v in exact.values())}
    log(f"catch-up ×{instances}: {posted:,} events in {seconds:.1f} s ({ready_seconds:.1f} s to /readyz, then "
        f"{result['drain_rate']:,.0f}/s); reads meanwhile "
        f"p95 {ms(result['reads']['p95_s'])} (n={result['reads']['n']}, failures {reader.failures}); "
        f"totals exact: {result['exact']}")
    return result


# ---- the run ---------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.province", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=int, default=1, help="years of history (1: routine; 5: full size)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the 600,000 inspections a year (e.g. 0.01 for a quick run)")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--reads", type=int, default=300, help="requests per figure query")
    parser.add_argument("--scorecard-reads", type=int, default=200, help="requests per scorecard window")
    parser.add_argument("--report-reads", type=int, default=20, help="annual report requests")
    parser.add_argument("--peer-reads", type=int, default=20, help="peer queries per query")
    parser.add_argument("--renders", type=int, default=20, help="dashboard renders in headless Chromium")
    parser.add_argument("--fresh-rate", type=int, default=2000, help="events/s of the freshness run")
    parser.add_argument("--fresh-seconds", type=float, default=300, help="seconds of the freshness run")
    parser.add_argument("--catch-up", type=int, default=1_000_000, help="events posted while indicators is down")
    parser.add_argument("--catch-up-timeout", type=float, default=1800)
    parser.add_argument("--load-timeout", type=float, default=7200, help="seconds to wait for indicators")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="folder for Kafka, PostgreSQL and logs (default: a temporary folder; full size "
                             "needs ~30 GB)")
    parser.add_argument("--kafka-port", type=int, default=36192)
    parser.add_argument("--pg-port", type=int, default=56333)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, work: Path, result: dict[str, Any]) -> None:  # noqa: PLR0915 - step by step
    """The run, filling ``result`` as it goes (so that what was measured survives a failure)."""
    from bench.__main__ import infrastructure, production_timings
    from devtools.webhook_receiver import WebhookReceiver
    from shared.db import migrate
    from shared.kafka import ensure_topics

    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    comparison = Comparison()
    prefix = f"prov{uuid.uuid4().hex[:6]}-"
    now = dt.datetime.now(CST)
    year = str(now.year - 1 if args.years >= 2 else now.year)
    with infrastructure("postgres", args.kafka_port, args.pg_port, work) as (bootstrap, db_url):
        log(f"broker {bootstrap}, database {db_url.split('@')[-1]}, topic prefix {prefix}")
        ensure_topics(bootstrap, {prefix + "qw.events": 6, prefix + "qw.figures": 3, prefix + "qw.events.dlq": 1})
        migrate(db_url)
        ports = {name: free_port() for name in ("intake", "indicators", "alerts")}
        env = {**production_timings(), "QW_GRACE_PERIOD_DAYS": str(366 * args.years + 31),
               "QW_ALERTS_PUBLIC_URL": f"http://127.0.0.1:{ports['alerts']}",
               "QW_DASHBOARD_ORIGINS": f"http://127.0.0.1:{ports['indicators']}"}
        stack = ServiceProcesses(bootstrap=bootstrap, database_url=db_url, topic_prefix=prefix, data_dir=work,
                                 admin_token=ADMIN, extra_env=env, ports=ports)
        result["service_env"] = env
        sampler = RssSampler([stack])
        peer = Peer(db_url, catalogue)
        peer_file = PeerFile(work / "peer.tsv", catalogue)
        try:
            stack.start()
            sampler.start()
            with stack.client("intake") as admin:
                token = admin.post("/v1/api-keys", json={"role": "agency", "agency_id": "market-supervision"}
                                   ).json()["api_key"]

            # 1. accept→webhook on the empty store
            receiver = WebhookReceiver(secret="bench-webhook-secret-0123456789").start()
            try:
                subscribe(stack, receiver.url())
                result["webhook"] = webhook_trial(stack, receiver, prefix + "hook", "321300", record=peer_file.add)
            finally:
                receiver.stop()
            log(f"accept→webhook: {result['webhook']['seconds']:.3f} s")

            # 2. the history through intake
            volume = volume_for(catalogue, INSPECTIONS_PER_YEAR * args.scale)
            end = dt.datetime.now(CST) - dt.timedelta(minutes=5)
            start = end - dt.timedelta(days=365 * args.years)
            events = history(catalogue, seed=args.seed, start=start, end=end, volume=volume, tag=f"p{args.seed}")
            before = intake_accepted(stack)
            started = time.perf_counter()
            posted = post_batches(stack.url("intake"), ADMIN, batches(events, peer_file))
            post_seconds = time.perf_counter() - started
            log(f"history: {posted:,} events accepted in {post_seconds:.1f} s ({posted / post_seconds:,.0f}/s)")
            wait_caught_up(stack, expected=before + posted, timeout=args.load_timeout)
            current_seconds = time.perf_counter() - started
            log(f"every figure current {current_seconds:.1f} s after the first batch")
            result["load"] = {"events": posted, "inspections_per_year": INSPECTIONS_PER_YEAR * args.scale,
                              "volume": volume, "from": start.isoformat(), "to": end.isoformat(),
                              "post_seconds": post_seconds, "ingest_rate": posted / post_seconds,
                              "current_seconds": current_seconds, "apply_rate": posted / current_seconds,
                              "rss_peak_mb": dict(sampler.peak), "disk_mb": disk_mb(work, db_url)}
            log(f"disk after the load: {result['load']['disk_mb']}")

            # 3.+4. reads, and the peer
            result["peer_load"] = peer.load(peer_file)
            log(f"peer: {result['peer_load']['rows']:,} rows copied and indexed: {result['peer_load']}")
            reads: dict[str, Any] = {}
            result["reads"] = reads  # filled as the reads go
            with stack.client("indicators", token) as client:
                # the floor under every read: a sync route through the same middleware, no auth, no query
                reads["http_floor"] = timings(timed(lambda: client.get("/healthz").raise_for_status(), args.reads)[0])
                log(f"HTTP floor (GET /healthz): p50 {ms(reads['http_floor']['p50_s'])} "
                    f"p95 {ms(reads['http_floor']['p95_s'])}")
                reads["figures"] = figure_reads(client, peer, args, year, comparison)
                reads["scorecards"] = scorecard_reads(client, peer, args, ("30d", "365d", year), comparison)
                reads["report"] = report_reads(client, peer, args, year, comparison)
            reads["dashboard"] = phase("dashboard renders", lambda: dashboard_renders(
                stack.url("indicators"), token, args.renders))
            log(f"dashboard first complete render: p50 {ms(reads['dashboard'].get('p50_s'))} "
                f"p95 {ms(reads['dashboard'].get('p95_s'))}")
            result["peer_mismatches"] = comparison.mismatches
            log(f"peer equal to ours: {not comparison.mismatches} ({len(comparison.mismatches)} differences)")

            # 5. freshness
            if args.fresh_seconds > 0:
                result["freshness"] = phase("freshness", lambda: freshness(stack, args, prefix))

            # 6. catch-up
            if args.catch_up > 0:
                result["catch_up"] = [
                    phase(f"catch-up, {n} instance(s)", lambda n=n: catch_up(
                        stack, catalogue, args, token, instances=n, tag=f"c{n}{args.seed}", sampler=sampler))
                    for n in (1, 2)]
        finally:
            sampler.stop()
            result["rss_peak_mb"] = dict(sampler.peak)
            peer.close()
            stack.stop()


def phase(name: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One measuring step; a step that fails is recorded (and the table says so) while the run goes on, so an
    hour of loading is not lost to one step."""
    try:
        return measure()
    except Exception as exc:  # noqa: BLE001 - recorded in the results, printed, and the run goes on
        log(f"{name} FAILED: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def freshness(stack: ServiceProcesses, args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """Accept → visible at ``--fresh-rate`` for ``--fresh-seconds``, and accept → applied from the histogram."""
    wait_caught_up(stack)
    before_hist = prom.buckets(prom.scrape(stack.url("indicators")), LATENCY_HISTOGRAM)
    fresh = paced_run(stack.url("intake"), stack.url("indicators"), ADMIN, rate=args.fresh_rate,
                      seconds=args.fresh_seconds, prefix=f"{prefix}fresh")
    wait_caught_up(stack)
    after_hist = prom.buckets(prom.scrape(stack.url("indicators")), LATENCY_HISTOGRAM)
    fresh["histogram_accept_to_applied"] = {
        f"p{int(q * 100)}_s": prom.bucket_quantile(before_hist, after_hist, q) for q in (0.5, 0.99)}
    log(f"freshness @{args.fresh_rate}/s (sent {fresh['achieved_rate']:,.0f}/s): "
        f"p50 {ms(fresh['p50_s'])} p99 {ms(fresh['p99_s'])}")
    return fresh


# ---- the table -------------------------------------------------------------------------------
def _yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def _ratio(item: dict[str, Any]) -> float | None:
    ours, theirs = item["ours"]["p50_s"], item["peer"]["p50_s"]
    return theirs / ours if ours and theirs else None


def build_rows(r: dict[str, Any]) -> tuple[list[Row], list[dict[str, Any]]]:  # noqa: PLR0912, PLR0915
    rows: list[Row] = []
    verdicts: list[dict[str, Any]] = []

    def goal(measure: str, value: str, target: str, ok: bool | None, raw: Any = None, ratio: str = "") -> None:
        rows.append(Row(measure, value, ratio=ratio, goal=target, met=_yes(ok)))
        verdicts.append({"measure": measure, "value": raw, "goal": target, "met": ok})

    load = r["load"]
    rows.append(Row(f"history: {load['events']:,} events ({load['inspections_per_year']:,.0f} inspections/yr × "
                    f"{r['args']['years']} yr)", f"{load['ingest_rate']:,.0f} events/s into intake"))
    rows.append(Row("time until every figure is current", f"{load['current_seconds']:,.1f} s",
                    ratio=f"{load['apply_rate']:,.0f} events/s applied"))
    reads = r.get("reads", {})
    peer_faster_everywhere = True
    if "http_floor" in reads:
        floor = reads["http_floor"]
        rows.append(Row("HTTP floor: GET /healthz (no auth, no query) p50 / p95",
                        f"{ms(floor['p50_s'])} / {ms(floor['p95_s'])}"))
    for item in reads.get("figures", []):
        ratio = _ratio(item)
        peer_faster_everywhere &= ratio is not None and ratio > 1
        p95 = item["ours"]["p95_s"]
        goal(f"{item['name']} p50 / p95 (n={item['denominator']:,})",
             f"{ms(item['ours']['p50_s'])} / {ms(p95)}", "p95 ≤ 10 ms", p95 is not None and p95 <= 0.010, p95,
             ratio=f"peer {ms(item['peer']['p50_s'])}: {ratio:.1f}×" if ratio else "")
    for item in reads.get("scorecards", []):
        ratio = _ratio(item)
        peer_faster_everywhere &= ratio is not None and ratio > 1
        p95 = item["ours"]["p95_s"]
        goal(f"{item['name']} p50 / p95", f"{ms(item['ours']['p50_s'])} / {ms(p95)}", "p95 ≤ 100 ms",
             p95 is not None and p95 <= 0.100, p95, ratio=f"peer {ms(item['peer']['p50_s'])}: {ratio:.1f}×"
             if ratio else "")
        goal(f"{item['name']}: peer / ours", f"{ratio:.1f}×" if ratio else "n/a", "≥ 10×",
             ratio is not None and ratio >= 10, ratio)
    if "report" in reads:
        item = reads["report"]
        ratio = _ratio(item)
        peer_faster_everywhere &= ratio is not None and ratio > 1
        p95 = item["ours"]["p95_s"]
        goal(f"{item['name']} p50 / p95", f"{ms(item['ours']['p50_s'])} / {ms(p95)}", "≤ 2 s",
             p95 is not None and p95 <= 2.0, p95, ratio=f"peer {ms(item['peer']['p50_s'])}: {ratio:.1f}×"
             if ratio else "")
        goal(f"{item['name']}: peer / ours", f"{ratio:.1f}×" if ratio else "n/a", "≥ 10×",
             ratio is not None and ratio >= 10, ratio)
    failed = [(name, step["error"]) for name, step in (("dashboard renders", reads.get("dashboard")),
                                                         ("freshness", r.get("freshness")),
                                                         *(("catch-up", c) for c in r.get("catch_up", [])))
              if isinstance(step, dict) and "error" in step]
    for name, error in failed:
        goal(f"{name}: the step failed", error[:80], "runs", False, None)
    if "dashboard" in reads and "error" not in reads["dashboard"]:
        d = reads["dashboard"]
        goal(f"dashboard first complete render p50 / p95 (n={d['n']})", f"{ms(d['p50_s'])} / {ms(d['p95_s'])}",
             "p95 ≤ 1.5 s", None if d["p95_s"] is None else d["p95_s"] <= 1.5, d["p95_s"])
    if reads:
        goal("faster than the peer on every query", "yes" if peer_faster_everywhere else "no", "every query",
             peer_faster_everywhere, peer_faster_everywhere)
        equal = not r.get("peer_mismatches")
        goal("peer's numbers equal ours", "equal" if equal else f"{len(r['peer_mismatches'])} differ", "equal",
             equal, equal)
    if "freshness" in r and "error" not in r["freshness"]:
        f = r["freshness"]
        rows.append(Row(f"accept→visible @{f['target_rate']:,}/s for {f['seconds']:.0f} s "
                        f"(sent {f['achieved_rate']:,.0f}/s) p50", ms(f["p50_s"])))
        goal(f"accept→visible @{f['target_rate']:,}/s p99", ms(f["p99_s"]), "≤ 250 ms",
             f["p99_s"] is not None and f["p99_s"] <= 0.25 and f["events_visible"] == f["events_accepted"],
             f["p99_s"])
    rows.append(Row("accept→webhook, one breach, empty store, for=0", ms(r["webhook"]["seconds"])))
    for c in (c for c in r.get("catch_up", []) if "error" not in c):
        label = f"catch-up of {c['events']:,} events, {c['instances']} instance{'s' if c['instances'] > 1 else ''}"
        goal(label, f"{c['seconds']:,.1f} s ({c['ready_seconds']:.1f} s start, then {c['drain_rate']:,.0f}/s)",
             "≤ 90 s per 1M",
             c["seconds"] * 1_000_000 / max(c["events"], 1) <= 90, c["seconds"])
        p95 = c["reads"]["p95_s"]
        goal(f"{label}: figure reads meanwhile p95 (n={c['reads']['n']})", ms(p95), "p95 ≤ 50 ms",
             p95 is not None and p95 <= 0.050 and c["read_failures"] == 0, p95)
        goal(f"{label}: totals exact", "exact" if c["exact"] else "NOT exact", "exact", c["exact"], c["exact"])
    for name, peak in sorted(r.get("rss_peak_mb", {}).items()):
        goal(f"peak RSS {name} (sampled every 0.5 s)", f"{peak:,.0f} MB", "≤ 200 MB", peak <= 200, peak)
    return rows, verdicts


def notes(r: dict[str, Any]) -> list[str]:
    a = r["args"]
    return [
        f"python -m bench.province --years {a['years']} --scale {a['scale']}; took {r['seconds']:.0f} s; "
        f"{'FULL size' if a['years'] >= 5 and a['scale'] >= 1 else 'NOT full size (full: --years 5 --scale 1)'}.",
        f"Machine: {describe(r['machine'])}; load average {r['load_start']} at start, {r['load_end']} at end "
        "(shared machine: other work runs beside the benchmark).",
        "PostgreSQL (LocalPostgres), Kafka (LocalKafka), the three services as processes with production timings "
        "(QW_ALERT_FOR_SECONDS=0). History: devtools.demo_data, seeded, all 13 cities and 3–6 counties each "
        "(the demo's COUNTIES), every category, 25 % of failures first reported as a pass and revised; "
        f"posted in batches of {BATCH} by 4 threads through intake's batch API as the operator.",
        "Reads: sequential requests over one keep-alive connection with an agency key; p50/p95 of each query. "
        "Peer: psycopg straight to PostgreSQL (no HTTP, JSON or auth), GROUP BY over the raw events with its "
        "own indexes; ratio = peer p50 / ours p50. Its scorecard and report cover the inspection pass rates "
        "only; ours compute every indicator.",
        "Freshness: bench/load.py's paced run (batches every 50 ms; visible = the province figure counts it).",
        "Catch-up: indicators stopped, events posted, then started; lag 0 = every instance's processed count "
        "reached the events posted and its consumer lag gauge is 0; totals exact = the province's 30d pass-rate "
        "figures moved by exactly what the posted events say (latest revision per sample).",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A SIGTERM (``timeout``, a CI job cancelled) unwinds like Ctrl-C: services, PostgreSQL and Kafka stop.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    result: dict[str, Any] = {"at": stamp, "machine": machine_info(), "load_start": load_average(),
                              "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    started = time.monotonic()
    log(f"python -m bench.province {' '.join(argv if argv is not None else sys.argv[1:])}: "
        f"{describe(result['machine'])}, load {result['load_start']}")
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"province-{stamp}.json"
    try:
        with tempfile.TemporaryDirectory(prefix="qw-province-", dir=args.work_dir) as tmp:
            run(args, Path(tmp), result)
    except BaseException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
        out.write_text(json.dumps(result, indent=2, default=str))
        print(f"\nthe run stopped; what it measured: {out.relative_to(ROOT)}")
        raise
    result["seconds"] = time.monotonic() - started
    result["load_end"] = load_average()
    rows, verdicts = build_rows(result)
    result["table"] = [vars(row) for row in rows]
    result["verdicts"] = verdicts
    result["notes"] = notes(result)
    print()
    print(render(rows))
    print()
    for line in result["notes"]:
        print(f"- {line}")
    for line in result.get("peer_mismatches", [])[:20]:
        print(f"! peer differs: {line}")
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nresults: {out.relative_to(ROOT)}")
    failed = bool(result.get("peer_mismatches")) or not all(c.get("exact") for c in result.get("catch_up", []))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
