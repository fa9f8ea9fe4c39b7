"""Experiment, not the service's design: would applying in a second process lift the consumer's ratio?

``python -m bench.probe_apply_process [--events 100000]``

The indicator consumer does everything in one thread: kafka-python's poll, decoding and validation,
and the database transaction; the GIL keeps it to one core. This probe measures, in one run and on
the same pre-produced events, the raw consume+parse ceiling (as ``bench.bench_indicators``) and two
loops over the same ``BatchProcessor``:

  inline  poll, then decode and apply in the same thread (what the service does, without figure
          publishing);
  split   poll and decode in this process, then hand each decoded batch to a second process that
          applies it (spawned, with its own engine on the same SQLite file), while this process
          polls and decodes the next batch. Events cross as plain tuples and are rebuilt with
          pydantic's pickle-state protocol, without validating again (validation costs more than
          the transfer).

It prints each loop's rate, its ratio to the raw ceiling (mean of before and after), CPU microseconds
per event summed over both processes (from the first batch; the worker's start-up is not counted, and the
clock starts once it is ready), and each process's resident memory at the end and at its peak: the figures a decision
between one and two processes needs (throughput against the 200 MB per-service memory goal and the
CPU spent). Offsets are not committed and nothing is published: it measures the work, not the
service's exactly-once machinery, which a split would have to carry across the process boundary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.bench_indicators import produce, raw_rate
from bench.machine import process_memory_mb
from shared import events as ev

EVENT_CLASSES = (ev.SampleCollectedEvent, ev.InspectionCompletedEvent, ev.AcceptanceCompletedEvent,
                 ev.FigureReportedEvent, ev.SurveyScoredEvent, ev.MilestoneReportedEvent)
CLASS_INDEX = {cls: i for i, cls in enumerate(EVENT_CLASSES)}


def pack(decoded: list[Any]) -> bytes:
    """Decoded events as tuples: message fields, event class, envelope fields, data values (field order)."""
    rows = []
    fields_sets: dict[frozenset[str], frozenset[str]] = {}  # one object per distinct set: pickled once
    for item in decoded:
        event, message = item.event, item.message
        data = event.data
        fields = frozenset(data.__pydantic_fields_set__)
        rows.append(((message.topic, message.partition, message.offset, message.key, message.value,
                      tuple(message.headers or ())),
                     CLASS_INDEX[type(event)], event.event_id, event.occurred_at.astimezone(dt.UTC), event.lab_id,
                     tuple(data.__dict__.values()), fields_sets.setdefault(fields, fields), item.content_hash,
                     item.received))
    return pickle.dumps(rows, protocol=5)


def unpack(blob: bytes) -> list[Any]:
    from services.indicators.decode import Decoded, Message

    out = []
    for message, index, event_id, occurred_at, lab_id, values, fields, content_hash, received in pickle.loads(blob):
        cls = EVENT_CLASSES[index]
        data_cls = cls.model_fields["data"].annotation
        data = data_cls.__new__(data_cls)
        data.__setstate__({"__dict__": dict(zip(data_cls.model_fields, values, strict=True)),
                           "__pydantic_fields_set__": set(fields), "__pydantic_extra__": None,
                           "__pydantic_private__": None})
        event = cls.__new__(cls)
        event.__setstate__({"__dict__": {"event_id": event_id, "occurred_at": occurred_at, "lab_id": lab_id,
                                         "type": cls.model_fields["type"].annotation.__args__[0], "data": data},
                            "__pydantic_fields_set__": {"event_id", "occurred_at", "lab_id", "type", "data"},
                            "__pydantic_extra__": None, "__pydantic_private__": None})
        out.append(Decoded(Message(*message), event, content_hash, received))
    return out


def _processor(db_url: str) -> Any:
    from prometheus_client import CollectorRegistry

    from services.indicators.metrics import IndicatorsMetrics
    from services.indicators.processor import BatchProcessor
    from shared.catalogue import load_catalogue
    from shared.clock import SystemClock
    from shared.db import make_engine, make_sessionmaker, start_wal_checkpointer
    from shared.settings import DEFAULT_CATALOGUE

    class NoSink:
        def send(self, rejected: object) -> None:
            raise AssertionError("the probe's events are all valid")

    engine = make_engine(db_url)
    start_wal_checkpointer(engine)  # as the service runs it
    return BatchProcessor(load_catalogue(DEFAULT_CATALOGUE), make_sessionmaker(engine), NoSink(),
                          IndicatorsMetrics(CollectorRegistry()), SystemClock())


def apply_worker(connection: Connection, db_url: str) -> None:
    """The second process: apply each batch it receives; answer (events, CPU seconds so far, RSS MB)."""
    from services.indicators.consumer import tune_gc
    from services.indicators.processor import DecodedBatch

    processor = _processor(db_url)
    tune_gc()
    connection.send(time.process_time())  # ready: the CPU spent starting up, not counted
    while True:
        try:
            blob = connection.recv_bytes()
        except EOFError:
            return
        decoded = unpack(blob)
        result = processor.apply(DecodedBatch(len(decoded), decoded, [], time.perf_counter()))
        connection.send((result.messages, time.process_time(), process_memory_mb(os.getpid())))


def run_loop(bootstrap: str, topic: str, events: int, db_url: str, split: bool) -> dict[str, float]:
    from shared.db import migrate
    from shared.kafka import make_consumer, subscribe_when_known

    migrate(db_url)
    worker = parent_end = None
    child_started = 0.0
    if split:
        from services.indicators.processor import BatchProcessor
        from shared.catalogue import load_catalogue
        from shared.clock import SystemClock
        from shared.settings import DEFAULT_CATALOGUE

        # Decoding only: no engine, no checkpointer in this process.
        processor = BatchProcessor(load_catalogue(DEFAULT_CATALOGUE), None, None, None, SystemClock())  # type: ignore[arg-type]
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        parent_end, child_end = context.Pipe()
        worker = context.Process(target=apply_worker, args=(child_end, db_url), daemon=True)
        worker.start()
        child_end.close()
        child_started = parent_end.recv()  # the worker is ready before the clock starts
    else:
        processor = _processor(db_url)
    consumer = make_consumer(bootstrap, group_id=f"probe-{uuid.uuid4().hex[:8]}", client_id="probe")
    subscribe_when_known(consumer, topic)
    done, in_flight, started, child_cpu, child_memory = 0, False, None, child_started, {}
    cpu = time.process_time()
    while done < events:
        polled = consumer.poll(timeout_ms=0 if in_flight else 200, max_records=2000)
        messages = [record for records in polled.values() for record in records]
        if started is None and messages:
            started, cpu = time.perf_counter(), time.process_time()
        if not split:
            if messages:
                done += processor.process(messages).messages
            continue
        blob = pack(processor.decode(messages).decoded) if messages else None
        if in_flight:
            applied, child_cpu, child_memory = parent_end.recv()  # type: ignore[union-attr]
            done += applied
            in_flight = False
        if blob is not None:
            parent_end.send_bytes(blob)  # type: ignore[union-attr]
            in_flight = True
    elapsed = time.perf_counter() - started  # type: ignore[operator]
    parent_cpu = time.process_time() - cpu
    consumer.close()
    if worker is not None:
        parent_end.close()  # type: ignore[union-attr]
        worker.join(10)
    memory = process_memory_mb(os.getpid())
    return {"rate": events / elapsed, "cpu_us_per_event": (parent_cpu + child_cpu - child_started) / events * 1e6,
            "rss_mb": memory["VmRSS"], "peak_rss_mb": memory["VmHWM"],
            "child_rss_mb": child_memory.get("VmRSS", 0.0), "child_peak_rss_mb": child_memory.get("VmHWM", 0.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--kafka-port", type=int, default=39592)
    parser.add_argument("--loop", choices=("inline", "split"), help=argparse.SUPPRESS)  # one loop, in a fresh process
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from services.indicators.consumer import tune_gc

    if args.loop:
        tune_gc()
        db_url = f"sqlite:///{tempfile.mkdtemp(prefix='qw-probe-db-')}/probe.db"
        print(json.dumps(run_loop(args.bootstrap, args.topic, args.events, db_url, args.loop == "split")))
        return 0

    from devtools.localinfra import LocalKafka
    from shared.kafka import ensure_topics, make_producer

    broker = LocalKafka(Path(tempfile.mkdtemp(prefix="qw-probe-kafka-")), port=args.kafka_port,
                        controller_port=args.kafka_port + 1)
    broker.start()
    try:
        prefix = f"probe{uuid.uuid4().hex[:6]}-"
        topic = prefix + "qw.events"
        ensure_topics(broker.bootstrap, {topic: 6})
        producer = make_producer(broker.bootstrap, client_id="probe-producer", linger_ms=5)
        produce(producer, topic, prefix, args.events)
        producer.close(timeout=5)
        tune_gc()
        raw_before = raw_rate(broker.bootstrap, topic)["rate"]
        loops = {}
        for mode in ("inline", "split"):  # each in a fresh process, so that memory figures are its own
            out = subprocess.run([sys.executable, "-m", "bench.probe_apply_process", "--loop", mode, "--bootstrap",
                                  broker.bootstrap, "--topic", topic, "--events", str(args.events)],
                                 check=True, capture_output=True, text=True, timeout=900).stdout
            loops[mode] = json.loads(out.strip().splitlines()[-1])
        raw_after = raw_rate(broker.bootstrap, topic)["rate"]
        raw = (raw_before + raw_after) / 2
        print(f"raw consume+parse: {raw_before:,.0f} before, {raw_after:,.0f} after (events/s)")
        for mode, figures in loops.items():
            memory = f"{figures['rss_mb']:.0f} MB (peak {figures['peak_rss_mb']:.0f})"
            if mode == "split":
                memory += f" + {figures['child_rss_mb']:.0f} MB (peak {figures['child_peak_rss_mb']:.0f})"
            print(f"{mode:6s}: {figures['rate']:,.0f} events/s, ratio {figures['rate'] / raw:.2f}; "
                  f"{figures['cpu_us_per_event']:.1f} CPU us/event; RSS {memory}")
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
