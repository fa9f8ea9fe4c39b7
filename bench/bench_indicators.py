"""Indicator consumer throughput and latency: ``python -m bench.bench_indicators [--events 100000]``.

Measures in one run, on this machine:
  (a) the raw consume+parse rate: a kafka-python consumer + orjson + ``parse_event`` over N events
      pre-produced in intake's message format (no database);
  (b) the indicator consumer's rate over the same N events, with its database writes (PostgreSQL if
      QW_DATABASE_URL is a postgres URL, else a fresh SQLite file) and its figure publishing; (a) is
      measured again after (b) and the ratio uses the mean (the machine may be shared); events per
      CPU-second of this process are printed too, a load-independent view (without the DB server);
  (c) accept-to-applied latency at a sustained produce rate (default 2,000 events/s for 20 s):
      ``qw-received-at`` is stamped at produce time; an event's latency is its batch's commit time
      minus that stamp (after the commit the figure query reflects it);
  (d) the scorecard's compute time on the warm database.
Prints the rates, the ratio consumer/raw (goal >= 0.5) and p50/p99 latency; writes
bench/results/indicators-<timestamp>.json. Uses --bootstrap / QW_KAFKA_BOOTSTRAP if given, else starts
a LocalKafka broker for the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TZ = dt.timezone(dt.timedelta(hours=8))
REGIONS = ("320100", "320200", "320300", "320505", "320600", "321300", "320481")
CATEGORIES = ("vegetables", "fruit", "tea", "grain")


def make_event(prefix: str, n: int, occurred: str) -> dict[str, Any]:
    """Mostly inspections (some revisions), plus samples and surveys: the service's main load."""
    kind = n % 10
    base = {"event_id": f"{prefix}-{n:09d}", "occurred_at": occurred, "lab_id": "LAB-0001"}
    region = REGIONS[n % len(REGIONS)]
    if kind < 7:
        return {**base, "type": "inspection.completed",
                "data": {"sample_id": f"S-{prefix}-{n // 2}", "programme": "agri-routine-monitoring",
                         "category": CATEGORIES[n % 4], "region": region, "verdict": "pass" if n % 31 else "fail",
                         "revision": 1 + n % 2}}
    if kind < 9:
        return {**base, "type": "sample.collected",
                "data": {"sample_id": f"S-{prefix}-{n}", "programme": "agri-routine-monitoring",
                         "category": CATEGORIES[n % 4], "region": region}}
    return {**base, "type": "survey.scored",
            "data": {"sector": "producer_services", "region": region, "score": 80 + n % 15, "respondents": 20}}


def encoded(obj: dict[str, Any], received_at: dt.datetime) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    from shared.events import CONTENT_HASH_HEADER, RECEIVED_AT_HEADER, canonical_json, parse_event, subject_key

    event = parse_event(obj)
    return (subject_key(event).encode(), canonical_json(event),
            [(CONTENT_HASH_HEADER, event.content_hash().encode()),
             (RECEIVED_AT_HEADER, received_at.astimezone(dt.UTC).isoformat().encode())])


def produce(producer: Any, topic: str, prefix: str, count: int, start: int = 0) -> None:
    occurred = (dt.datetime.now(TZ) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    now = dt.datetime.now(dt.UTC)
    for n in range(start, start + count):
        key, value, headers = encoded(make_event(prefix, n, occurred), now)
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush(timeout=120)


def raw_rate(bootstrap: str, topic: str) -> dict[str, float]:
    """The consume ceiling: kafka-python (read_committed, 2,000 records a poll) + orjson + ``parse_event`` over
    everything in ``topic`` up to its end offsets, no database."""
    from shared.events import parse_event

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20,
                             max_poll_records=2000, isolation_level="read_committed")
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    seen = 0
    started = time.perf_counter()
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        for records in consumer.poll(timeout_ms=500, max_records=2000).values():
            for record in records:
                parse_event(orjson.loads(record.value))
                seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return {"events": seen, "seconds": elapsed, "rate": seen / elapsed}


def main() -> int:  # noqa: PLR0915 - a linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("QW_KAFKA_BOOTSTRAP"))
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=2_000, help="events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kafka-port", type=int, default=39392)
    parser.add_argument("--max-records", type=int, default=None,
                        help="records per consumer batch (default: Settings().consumer_max_records, as deployed)")
    args = parser.parse_args()

    from services.indicators.consumer import EventsConsumer, tune_gc
    from services.indicators.deadletters import KafkaDeadLetterSink
    from services.indicators.metrics import IndicatorsMetrics
    from services.indicators.processor import BatchProcessor, BatchResult
    from services.indicators.publish_worker import PublishWorker
    from services.indicators.publisher import FigurePublisher
    from services.indicators.reader import FigureReader, FigureRequest
    from shared.catalogue import load_catalogue
    from shared.clock import SystemClock
    from shared.db import make_engine, make_sessionmaker, migrate, start_wal_checkpointer
    from shared.kafka import ensure_topics, make_consumer, make_producer
    from shared.settings import DEFAULT_CATALOGUE, Settings

    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        from devtools.localinfra import LocalKafka

        broker = LocalKafka(Path(tempfile.mkdtemp(prefix="qw-bench-kafka-")), port=args.kafka_port,
                            controller_port=args.kafka_port + 1)
        broker.start()
        bootstrap = broker.bootstrap
    max_records = args.max_records or Settings().consumer_max_records
    db_url = os.environ.get("QW_DATABASE_URL", "")
    if not db_url.startswith("postgresql"):
        db_url = f"sqlite:///{tempfile.mkdtemp(prefix='qw-bench-db-')}/bench.db"
    prefix = f"bench{uuid.uuid4().hex[:8]}-"
    events_topic, figures_topic, dlq_topic = prefix + "qw.events", prefix + "qw.figures", prefix + "qw.events.dlq"
    partitions = 6
    try:
        ensure_topics(bootstrap, {events_topic: partitions, figures_topic: 3, dlq_topic: 1})
        migrate(db_url)
        producer = make_producer(bootstrap, client_id="bench-producer", linger_ms=5)
        print(f"producing {args.events} events to {events_topic} …", flush=True)
        t0 = time.perf_counter()
        produce(producer, events_topic, prefix, args.events)
        produce_rate = args.events / (time.perf_counter() - t0)
        print(f"  produced at {produce_rate:,.0f} events/s", flush=True)

        # The consumer raises the GC threshold process-wide when it starts; the ceiling runs under the same setting.
        tune_gc()
        cpu = time.process_time()
        raw_before = raw_rate(bootstrap, events_topic)["rate"]
        raw_cpu = args.events / (time.process_time() - cpu)
        print(f"(a) raw consume+parse: {raw_before:,.0f} events/s", flush=True)

        catalogue = load_catalogue(DEFAULT_CATALOGUE)
        engine = make_engine(db_url)
        checkpointer = start_wal_checkpointer(engine)  # as the service runs it
        sessions = make_sessionmaker(engine)
        clock = SystemClock()
        registry = CollectorRegistry()
        metrics = IndicatorsMetrics(registry)
        reader = FigureReader(catalogue, sessions, clock)
        publisher = PublishWorker(FigurePublisher(catalogue, sessions, reader, producer, figures_topic, metrics, clock))
        publisher.start()  # as the service runs it: figures published from a thread of their own
        processor = BatchProcessor(catalogue, sessions, KafkaDeadLetterSink(producer, dlq_topic), metrics, clock)
        lock = threading.Lock()
        state: dict[str, Any] = {"processed": 0, "first": None, "last": None, "latencies": [], "record": False}

        def after_commit(result: BatchResult) -> None:
            with lock:
                state["processed"] += result.messages
                if state["first"] is None:
                    state["first"] = time.perf_counter() - result.seconds
                    state["cpu_first"], state["cpu_skipped"] = time.process_time(), result.messages
                state["last"] = time.perf_counter()
                state["cpu_last"] = time.process_time()
                if state["record"]:
                    for seconds, count in result.latencies():
                        state["latencies"].extend([seconds] * count)

        consumer = EventsConsumer(
            lambda: make_consumer(bootstrap, group_id=prefix + "indicators", client_id="bench-indicators",
                                  max_poll_records=max_records),
            events_topic, processor, publisher, metrics, max_records=max_records, after_commit=after_commit)
        consumer.start()
        deadline = time.monotonic() + 900
        while state["processed"] < args.events and time.monotonic() < deadline:
            time.sleep(0.05)
        with lock:
            rate = state["processed"] / (state["last"] - state["first"])
            consumer_cpu = (state["processed"] - state["cpu_skipped"]) / (state["cpu_last"] - state["cpu_first"])
        # Other processes load this machine too: the ceiling is measured again right after the consumer
        # phase, and the ratio is taken against the mean of both measurements.
        raw_after = raw_rate(bootstrap, events_topic)["rate"]
        raw = (raw_before + raw_after) / 2
        print(f"(b) indicator consumer (with {engine.dialect.name} writes and figure publishing): "
              f"{rate:,.0f} events/s; ratio {rate / raw:.2f} (goal >= 0.5) against the mean raw rate "
              f"(raw after: {raw_after:,.0f}/s)", flush=True)
        print(f"    per CPU-second of this process: raw {raw_cpu:,.0f}, consumer {consumer_cpu:,.0f} events; "
              f"CPU ratio {consumer_cpu / raw_cpu:.2f} (excludes the database server's CPU)", flush=True)

        # (c) sustained rate latency
        with lock:
            state["record"] = True
        print(f"(c) producing {args.rate}/s for {args.seconds:.0f} s …", flush=True)
        occurred = (dt.datetime.now(TZ) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
        tick = 0.05
        per_tick = max(1, round(args.rate * tick))
        n = args.events
        started = time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            target_time = started + (n - args.events) / args.rate
            if time.perf_counter() < target_time:
                time.sleep(min(tick, target_time - time.perf_counter()))
                continue
            for _ in range(per_tick):
                key, value, headers = encoded(make_event(prefix, n, occurred), dt.datetime.now(dt.UTC))
                producer.send(events_topic, key=key, value=value, headers=headers)
                n += 1
        producer.flush(timeout=60)
        sent = n - args.events
        achieved = sent / (time.perf_counter() - started)
        deadline = time.monotonic() + 120
        while state["processed"] < n and time.monotonic() < deadline:
            time.sleep(0.05)
        consumer.stop()
        publisher.stop()
        latencies = sorted(state["latencies"])
        p50 = statistics.quantiles(latencies, n=100)[49] if latencies else None
        p99 = statistics.quantiles(latencies, n=100)[98] if latencies else None
        print(f"    sent {sent} at {achieved:,.0f}/s; accept-to-applied latency p50 {p50 * 1000:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms", flush=True)

        # (d) scorecard compute time on the warm database
        regions = (catalogue.province_code, *catalogue.city_codes)
        requests = [FigureRequest(s, "plan" if s.kind == "milestone" else "30d", regions) for s in catalogue.indicators]
        timings = []
        for _ in range(10):
            t = time.perf_counter()
            reader.figures(requests)
            timings.append(time.perf_counter() - t)
        scorecard_ms = statistics.median(timings) * 1000
        print(f"(d) scorecard ({len(requests)} indicators × {len(regions)} regions): median {scorecard_ms:.1f} ms",
              flush=True)
        producer.close(timeout=5)
        if checkpointer is not None:
            checkpointer.stop()
        engine.dispose()
        result = {
            "bench": "indicators", "at": dt.datetime.now(dt.UTC).isoformat(), "host": platform.node(),
            "cpus": os.cpu_count(), "python": sys.version.split()[0], "database": engine.dialect.name,
            "events": args.events, "max_records": max_records, "produce_rate": produce_rate,
            "raw_consume_parse_rate": raw, "raw_consume_parse_rates": [raw_before, raw_after],
            "cpu": {"raw_events_per_cpu_second": raw_cpu, "consumer_events_per_cpu_second": consumer_cpu,
                    "ratio": consumer_cpu / raw_cpu},
            "consumer_rate": rate, "ratio": rate / raw, "ratio_goal": 0.5,
            "latency": {"target_rate": args.rate, "achieved_rate": achieved, "seconds": args.seconds, "events": sent,
                        "p50_seconds": p50, "p99_seconds": p99, "max_seconds": latencies[-1] if latencies else None},
            "scorecard_median_ms": scorecard_ms,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"indicators-{engine.dialect.name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")
        return 0
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
