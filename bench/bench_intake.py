"""Intake throughput against the real broker: ``python -m bench.bench_intake [--db sqlite|postgres]``.

Measures in one run, on this machine:
  (a) the raw kafka-python producer (the services' settings: acks=all, idempotent, lz4, intake's linger)
      sending the same event bytes;
  (b) a bare FastAPI endpoint doing only the event validation (uvicorn subprocess, 1 worker);
  (c) intake's single-event path and (d) its batch path (500-event batches), intake as a subprocess
      (``python -m services.intake``) with the real broker and SQLite or PostgreSQL.
Prints the rates and the ratios batch/raw-producer (goal >= 0.60) and single/bare (goal >= 0.50), and
writes bench/results/intake-<timestamp>.json. Load comes from bench/httpload.py (raw asyncio streams) in this process.
Uses QW_KAFKA_BOOTSTRAP (or --bootstrap) if given, else starts a LocalKafka broker for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request, Response

from bench.httpload import drive_raw
from devtools.ports import free_port
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ADMIN = "bench-admin-token"
INTAKE_LINGER_MS = Settings.model_fields["publish_linger_ms"].default  # the ceiling uses intake's producer settings
TZ = dt.timezone(dt.timedelta(hours=8))


# ---- events ----------------------------------------------------------------------------------

def make_events(prefix: str) -> Iterator[dict[str, Any]]:
    occurred = (dt.datetime.now(TZ) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    for n in itertools.count():
        yield {"event_id": f"{prefix}-{n:09d}", "type": "inspection.completed", "occurred_at": occurred,
               "lab_id": "LAB-0001",
               "data": {"sample_id": f"S-{prefix}-{n}", "programme": "agri-routine-monitoring",
                        "category": "vegetables", "region": "320500", "verdict": "pass" if n % 30 else "fail"}}


# ---- bare FastAPI app (run by uvicorn --factory in a subprocess) -------------------------------

def bare_app():  # type: ignore[no-untyped-def]
    """Only what intake must do at least: read the body, parse JSON, validate with the catalogue."""
    from shared.catalogue import load_catalogue
    from shared.events import EventContext, parse_event
    from shared.settings import DEFAULT_CATALOGUE

    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    app = FastAPI()

    @app.post("/v1/events")
    async def post_event(request: Request) -> Response:
        event = parse_event(orjson.loads(await request.body()),
                            context=EventContext(catalogue, dt.datetime.now(dt.UTC)))
        return Response(orjson.dumps({"accepted": 1, "duplicates": 0, "event_ids": [event.event_id]}),
                        status_code=202, media_type="application/json")

    return app


# ---- infrastructure --------------------------------------------------------------------------

@contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    from devtools.localinfra import LocalKafka

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="qw-bench-kafka-") as home, \
            LocalKafka(Path(home), port=port, controller_port=free_port(), heap_mb=768) as kafka:
        yield kafka.bootstrap


@contextmanager
def database(kind: str, url: str | None, workdir: Path) -> Iterator[str]:
    if url:
        yield url
        return
    if kind == "sqlite":
        yield f"sqlite:///{workdir}/bench.db"
        return
    from devtools.localinfra import LocalPostgres

    home = Path(tempfile.mkdtemp(prefix="qw-bench-pg-"))
    server = LocalPostgres(home, port=free_port())
    server.start()
    try:
        yield server.create_database("bench_" + uuid.uuid4().hex[:8])
    finally:
        server.stop("immediate")


@contextmanager
def serve(argv: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[str]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited; see {log}")
            try:
                if httpx.get(base + "/healthz" if "services.intake" in argv else base + "/docs", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not come up; see {log}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---- measurements ----------------------------------------------------------------------------

def raw_producer(bootstrap: str, topic: str, count: int) -> dict[str, float]:
    from shared.events import canonical_json, parse_event, subject_key
    from shared.kafka import make_producer

    events = make_events("raw")
    messages = []
    for _ in range(count):
        event = parse_event(next(events))
        messages.append((subject_key(event).encode(), canonical_json(event)))
    producer = make_producer(bootstrap, client_id="bench-raw", linger_ms=INTAKE_LINGER_MS)
    try:
        producer.send(topic, key=b"warm", value=b"{}").get(30)
        started = time.perf_counter()
        futures = [producer.send(topic, key=k, value=v) for k, v in messages]
        producer.flush(60)
        elapsed = time.perf_counter() - started
        assert all(f.succeeded() for f in futures)
    finally:
        producer.close(10)
    return {"messages": count, "seconds": elapsed, "rate": count / elapsed,
            "bytes_per_message": sum(len(v) for _, v in messages) / count}


def single_bodies(prefix: str) -> Callable[[], bytes]:
    events = make_events(prefix)
    return lambda: orjson.dumps(next(events))


def batch_bodies(prefix: str, size: int) -> Callable[[], bytes]:
    events = make_events(prefix)
    return lambda: orjson.dumps({"events": [next(events) for _ in range(size)]})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("QW_KAFKA_BOOTSTRAP"))
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default=None, help="use this database instead of starting one")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each HTTP measurement")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--raw-messages", type=int, default=100_000)
    args = parser.parse_args(argv)

    from shared.kafka import ensure_topics

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    prefix = f"bench{uuid.uuid4().hex[:6]}-"
    with tempfile.TemporaryDirectory(prefix="qw-bench-") as tmp, broker(args.bootstrap) as bootstrap, \
            database(args.db, args.database_url, Path(tmp)) as db_url:
        work = Path(tmp)
        ensure_topics(bootstrap, {prefix + "qw.events": 6, prefix + "raw": 6})
        print(f"broker {bootstrap}; database {db_url.split('@')[-1]}", flush=True)

        raw = raw_producer(bootstrap, prefix + "raw", args.raw_messages)
        print(f"(a) raw producer        {raw['rate']:>10,.0f} msg/s  "
              f"({raw['bytes_per_message']:.0f} B each)", flush=True)

        port = free_port()
        with serve([sys.executable, "-m", "uvicorn", "bench.bench_intake:bare_app", "--factory", "--port", str(port),
                    "--log-level", "warning", "--no-access-log"], port, {}, work / "bare.log") as base:
            bare = asyncio.run(drive_raw(base, "/v1/events", single_bodies("bare"), concurrency=args.concurrency,
                                     seconds=args.seconds, per_request=1, headers={}))
        print(f"(b) bare FastAPI        {bare['request_rate']:>10,.0f} req/s  p50 {bare['p50_ms']:.1f} ms "
              f"p99 {bare['p99_ms']:.1f} ms  statuses {bare['statuses']}", flush=True)

        port = free_port()
        env = {"QW_KAFKA_BOOTSTRAP": bootstrap, "QW_DATABASE_URL": db_url, "QW_ADMIN_TOKEN": ADMIN,
               "QW_TOPIC_PREFIX": prefix, "QW_INTAKE_PORT": str(port), "QW_DATA_DIR": str(work),
               "QW_LOG_LEVEL": "WARNING"}
        with serve([sys.executable, "-m", "services.intake"], port, env, work / "intake.log") as base:
            auth = {"Authorization": f"Bearer {ADMIN}"}
            single = asyncio.run(drive_raw(base, "/v1/events", single_bodies("single"), concurrency=args.concurrency,
                                       seconds=args.seconds, per_request=1, headers=auth))
            print(f"(c) intake single       {single['request_rate']:>10,.0f} req/s  p50 {single['p50_ms']:.1f} ms "
                  f"p99 {single['p99_ms']:.1f} ms  statuses {single['statuses']}", flush=True)
            batch = asyncio.run(drive_raw(base, "/v1/events/batch", batch_bodies("batch", 500),
                                      concurrency=args.batch_concurrency, seconds=args.seconds, per_request=500,
                                      headers=auth))
            print(f"(d) intake batch of 500 {batch['event_rate']:>10,.0f} events/s  p50 {batch['p50_ms']:.1f} ms "
                  f"p99 {batch['p99_ms']:.1f} ms  statuses {batch['statuses']}", flush=True)

    ratios = {"batch_over_raw_producer": batch["event_rate"] / raw["rate"],
              "single_over_bare": single["request_rate"] / bare["request_rate"]}
    print(f"batch/raw-producer = {ratios['batch_over_raw_producer']:.2f} (goal >= 0.60)")
    print(f"single/bare        = {ratios['single_over_bare']:.2f} (goal >= 0.50)")
    result = {"timestamp": stamp, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "database": args.db if not args.database_url else "given", "concurrency": args.concurrency,
              "batch_concurrency": args.batch_concurrency, "seconds": args.seconds, "raw_producer": raw,
              "bare_fastapi": bare, "intake_single": single, "intake_batch": batch, "ratios": ratios,
              "goals": {"batch_over_raw_producer": 0.60, "single_over_bare": 0.50}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"intake-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
