"""``make bench`` = ``python -m bench [--quick] [--db sqlite|postgres] [--events N]``: every benchmark in one run.

On this machine, in one run, with its own Kafka broker (``LocalKafka``, 127.0.0.1:36092) and SQLite (default)
or PostgreSQL (``--db postgres``: ``LocalPostgres`` on 127.0.0.1:56233):
  1. ceilings: the raw kafka-python producer, a bare FastAPI endpoint doing intake's validation, the raw
     consume+parse rate over the very messages the indicator consumer then reads;
  2. intake single and batch (intake alone, as ``python -m services.intake``);
  3. the indicator consumer (``python -m services.indicators``) draining that backlog;
  4. accept-to-visible latency at 500 and 2,000 events/s through the real intake HTTP API (method in
     ``bench/load.py``), with indicators' ``qw_indicators_event_latency_seconds`` histogram as a cross-check;
  5. accept-to-webhook latency of one breach, with ``QW_ALERT_FOR_SECONDS=0``;
  6. each service's resident memory after N events went through the system (default 200,000).
Prints one table and writes ``bench/results/bench-<UTC timestamp>.json`` with machine info and load.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import prom
from bench.bench_intake import ADMIN, batch_bodies, raw_producer, serve, single_bodies
from bench.httpload import drive_raw
from bench.load import paced_run, post_batches
from bench.machine import describe, load_average, machine_info
from bench.report import build_rows, render
from bench.system import (
    consumer_drain,
    fill_and_measure_memory,
    intake_accepted,
    mixed_batches,
    raw_consume_parse,
    subscribe,
    wait_caught_up,
    webhook_trial,
)
from devtools.launcher import ServiceProcesses
from devtools.ports import free_port, port_open
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LATENCY_HISTOGRAM = "qw_indicators_event_latency_seconds"
WEBHOOK_CITIES = ("321300", "321200", "321100")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def port_or_free(preferred: int, span: int = 1) -> int:
    """``preferred`` when it (and the ``span - 1`` ports after it) are free, else a free port pair."""
    if not any(port_open(preferred + i) for i in range(span)):
        return preferred
    while True:
        port = free_port()
        if not any(port_open(port + i) for i in range(span)):
            log(f"port {preferred} is taken; using {port}")
            return port


@contextmanager
def infrastructure(db: str, kafka_port: int, pg_port: int, work: Path) -> Iterator[tuple[str, str]]:
    from devtools.localinfra import LocalKafka, LocalPostgres

    kafka_port = port_or_free(kafka_port, span=2)
    with LocalKafka(work / "kafka", port=kafka_port, controller_port=kafka_port + 1, heap_mb=768) as kafka:
        if db == "sqlite":
            yield kafka.bootstrap, f"sqlite:///{work}/bench.db"
            return
        work.chmod(0o755)  # the postgres OS user must reach its data folder (else LocalPostgres uses /var/tmp)
        server = LocalPostgres(work / "pg", port=port_or_free(pg_port))
        try:
            server.start()
            yield kafka.bootstrap, server.create_database("bench_" + uuid.uuid4().hex[:8])
        finally:
            server.stop("immediate")
            if server.base != server.home:
                shutil.rmtree(server.base, ignore_errors=True)


def production_timings() -> dict[str, str]:
    """ServiceProcesses sets test-speed timings; the benchmark runs the production defaults, except
    QW_ALERT_FOR_SECONDS=0 (an alert fires on the first breaching figure, not 60 s later)."""
    defaults = Settings.model_fields
    names = ("evaluation_interval_seconds", "recompute_interval_seconds", "delivery_poll_seconds",
             "retry_initial_seconds")
    env = {f"QW_{name.upper()}": str(defaults[name].default) for name in names}
    return {**env, "QW_ALERT_FOR_SECONDS": "0", "QW_LOG_LEVEL": "WARNING"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run (~2 min): small counts, short runs")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=None,
                        help="events through the system before reading RSS (default 200,000; 20,000 with --quick)")
    parser.add_argument("--backlog", type=int, default=None,
                        help="events the indicator consumer drains (default 100,000; 20,000 with --quick)")
    parser.add_argument("--http-seconds", type=float, default=None, help="each intake/bare HTTP run (10; 4)")
    parser.add_argument("--latency-seconds", type=float, default=None, help="each paced latency run (20; 8)")
    parser.add_argument("--raw-messages", type=int, default=None, help="raw producer messages (100,000; 20,000)")
    parser.add_argument("--webhook-trials", type=int, default=None, help="breaches timed (3; 1)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections for single-event HTTP runs")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="connections for the batch HTTP run")
    parser.add_argument("--kafka-port", type=int, default=36092,
                        help="broker port (+1: controller); a free one if taken")
    parser.add_argument("--pg-port", type=int, default=56233, help="PostgreSQL port; a free one if taken")
    args = parser.parse_args(argv)
    quick = args.quick
    for name, full, small in (("events", 200_000, 20_000), ("backlog", 100_000, 20_000), ("http_seconds", 10.0, 4.0),
                              ("latency_seconds", 20.0, 8.0), ("raw_messages", 100_000, 20_000),
                              ("webhook_trials", 3, 1)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    args.webhook_trials = max(1, min(args.webhook_trials, len(WEBHOOK_CITIES)))
    return args


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:  # noqa: PLR0915 - the run, step by step
    from devtools.webhook_receiver import WebhookReceiver
    from shared.kafka import ensure_topics

    result: dict[str, Any] = {}
    prefix = f"bench{uuid.uuid4().hex[:6]}-"
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with infrastructure(args.db, args.kafka_port, args.pg_port, work) as (bootstrap, db_url):
        log(f"broker {bootstrap}, database {db_url.split('@')[-1]}, topic prefix {prefix}")
        ensure_topics(bootstrap, {prefix + "raw": 6, prefix + "qw.events": 6, prefix + "qw.figures": 3,
                                  prefix + "qw.events.dlq": 1})
        ceilings: dict[str, Any] = {}
        ceilings["raw_producer"] = raw_producer(bootstrap, prefix + "raw", args.raw_messages)
        log(f"ceiling raw producer: {ceilings['raw_producer']['rate']:,.0f} msg/s")
        port = free_port()
        with serve([sys.executable, "-m", "uvicorn", "bench.bench_intake:bare_app", "--factory", "--port", str(port),
                    "--log-level", "warning", "--no-access-log"], port, {}, work / "bare.log") as base:
            ceilings["bare_fastapi"] = asyncio.run(drive_raw(
                base, "/v1/events", single_bodies("bare"), concurrency=args.concurrency, seconds=args.http_seconds,
                per_request=1, headers={}))
        log(f"ceiling bare FastAPI: {ceilings['bare_fastapi']['request_rate']:,.0f} req/s")

        stack = ServiceProcesses(bootstrap=bootstrap, database_url=db_url, topic_prefix=prefix, data_dir=work,
                                 admin_token=ADMIN, extra_env=production_timings())
        result["service_env"] = stack.extra_env
        try:
            stack.start("intake")
            intake = stack.url("intake")
            result["intake_single"] = asyncio.run(drive_raw(
                intake, "/v1/events", single_bodies(prefix + "single"), concurrency=args.concurrency,
                seconds=args.http_seconds, per_request=1, headers=auth))
            log(f"intake single: {result['intake_single']['request_rate']:,.0f} req/s")
            result["intake_batch"] = asyncio.run(drive_raw(
                intake, "/v1/events/batch", batch_bodies(prefix + "batch", 500), concurrency=args.batch_concurrency,
                seconds=args.http_seconds, per_request=500, headers=auth))
            log(f"intake batch: {result['intake_batch']['event_rate']:,.0f} events/s")

            backlog = int(intake_accepted(stack))
            if backlog < args.backlog:
                post_batches(intake, ADMIN, mixed_batches(prefix + "mix", args.backlog - backlog))
            backlog = int(intake_accepted(stack))
            ceilings["raw_consume_parse"] = raw_consume_parse(bootstrap, prefix + "qw.events")
            log(f"ceiling raw consume+parse over {ceilings['raw_consume_parse']['events']:,.0f} events: "
                f"{ceilings['raw_consume_parse']['rate']:,.0f} events/s")
            result["ceilings"] = ceilings
            result["consumer"] = consumer_drain(stack, backlog)
            log(f"indicator consumer drained {backlog:,} events: {result['consumer']['rate']:,.0f} events/s")

            stack.start("alerts")
            receiver = WebhookReceiver(secret="bench-webhook-secret-0123456789").start()
            try:
                subscribe(stack, receiver.url())
                result["latency"] = []
                for rate in (500, 2000):
                    wait_caught_up(stack)
                    before = prom.buckets(prom.scrape(stack.url("indicators")), LATENCY_HISTOGRAM)
                    run_result = paced_run(intake, stack.url("indicators"), ADMIN, rate=rate,
                                           seconds=args.latency_seconds, prefix=f"{prefix}lat{rate}")
                    wait_caught_up(stack)
                    after = prom.buckets(prom.scrape(stack.url("indicators")), LATENCY_HISTOGRAM)
                    run_result["histogram_accept_to_applied"] = {
                        f"p{int(q * 100)}_s": prom.bucket_quantile(before, after, q) for q in (0.5, 0.95, 0.99)}
                    result["latency"].append(run_result)
                    log(f"accept→visible @{rate}/s: sent {run_result['achieved_rate']:,.0f}/s, "
                        f"p50 {run_result['p50_s']:.3f} s p95 {run_result['p95_s']:.3f} s "
                        f"p99 {run_result['p99_s']:.3f} s; histogram {run_result['histogram_accept_to_applied']}")
                trials = [webhook_trial(stack, receiver, prefix + "hook", city)
                          for city in WEBHOOK_CITIES[:args.webhook_trials]]
                result["webhook"] = {"trials": trials, "alert_for_seconds": 0}
                log(f"accept→webhook: {[round(t['seconds'], 3) for t in trials]} s")
                result["memory"] = fill_and_measure_memory(stack, prefix + "fill", args.events)
                log(f"memory after {result['memory']['events_through_intake']:,} events: "
                    f"{ {k: round(v.get('VmRSS', 0)) for k, v in result['memory']['memory_mb'].items()} } MB")
            finally:
                receiver.stop()
        finally:
            stack.stop()
    return result


def notes(result: dict[str, Any]) -> list[str]:
    m = result["machine"]
    def seconds(values: dict[str, float | None]) -> str:
        return "/".join(f"{v:.3f}" if v is not None else "n/a" for v in values.values())

    latency = "; ".join(f"@{r['target_rate']}/s p50/p95/p99 {seconds(r['histogram_accept_to_applied'])} s"
                        for r in result.get("latency", []))
    return [
        f"N = {result['memory']['events_through_intake']:,} events through intake "
        f"(--events {result['args']['events']:,}); "
        f"database {result['args']['db']}; {'QUICK smoke run' if result['args']['quick'] else 'full run'}; "
        f"took {result['seconds']:.0f} s.",
        f"Machine: {describe(m)}; load average {result['load_start']} at start, {result['load_end']} at end "
        "(a shared, noisy machine: other work runs beside the benchmark, so figures vary run to run).",
        f"HTTP load: closed loop on raw asyncio streams (bench/httpload.py), {result['args']['concurrency']} "
        f"connections for single events, {result['args']['batch_concurrency']} for batches of 500; the load "
        "generator shares the 2 CPUs with the server under test. Raw producer and consume ceilings use the same "
        "kafka-python settings as the services (acks=all, idempotent, lz4, KeyHashPartitioner; read_committed, the "
        "consumer's GC settings); the bare endpoint runs on the same uvicorn (uvloop + httptools) as intake.",
        "Accept→visible: batches every 50 ms through intake's HTTP API; accept = the batch's 202; visible = the "
        "province figure's denominator (GET /v1/indicators/agri_sampling_pass_rate?region=320000&window=30d, "
        "polled from a separate thread 20 ms after each answer) counts the event, attributed by count order.",
        f"Cross-check, indicators' {LATENCY_HISTOGRAM} (accept→applied, bucket-interpolated): {latency}.",
        "Accept→webhook: QW_ALERT_FOR_SECONDS=0 (production waits 60 s on purpose), other alert timings at their "
        "defaults (delivery poll 0.5 s); from the 202 of the event that tipped a city into breach to the "
        "signed webhook arriving at a local WebhookReceiver.",
        "RSS = VmRSS from /proc/<pid>/status after the system caught up (peak = VmHWM).",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    result: dict[str, Any] = {"at": stamp, "machine": machine_info(), "load_start": load_average(),
                              "args": vars(args)}
    started = time.monotonic()
    log(f"python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}: {describe(result['machine'])}, "
        f"load {result['load_start']}")
    with tempfile.TemporaryDirectory(prefix="qw-bench-") as tmp:
        result.update(run(args, Path(tmp)))
    result["seconds"] = time.monotonic() - started
    result["load_end"] = load_average()
    rows, verdicts = build_rows(result)
    result["table"] = [vars(r) for r in rows]
    result["verdicts"] = verdicts
    result["notes"] = notes(result)
    print()
    print(render(rows))
    print()
    for line in result["notes"]:
        print(f"- {line}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
