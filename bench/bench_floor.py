"""The per-event CPU floor of intake's batch path: ``python -m bench.bench_floor [--events N]``.

Measures in one process, on this machine, CPU time (``time.process_time``, all threads) per event of:
  (a) publishing with the services' producer settings (``shared.kafka.make_producer``: acks=all, idempotent, lz4,
      intake's linger) and waiting for every acknowledgement: what the "raw producer" ceiling pays;
  (b) what intake must do to each event before it may publish it, and nothing else: pydantic validation with
      the plan catalogue (one call over the list, as intake does), the canonical JSON and its SHA-256.
Prints both and the best ratio intake's batch path could reach if HTTP, the idempotency ledger and
everything else cost nothing: a / (a + b) of the producer's rate, with the CPU as the limit.
Starts a LocalKafka broker unless QW_KAFKA_BOOTSTRAP (or --bootstrap) is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import time
import uuid

from bench.bench_intake import INTAKE_LINGER_MS, broker, make_events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("QW_KAFKA_BOOTSTRAP"))
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3, help="each measure is the best of this many rounds")
    args = parser.parse_args(argv)

    from shared.catalogue import load_catalogue
    from shared.events import EventContext, canonical_json, parse_events, subject_key
    from shared.kafka import ensure_topics, make_producer
    from shared.settings import DEFAULT_CATALOGUE

    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    events = make_events("floor")
    objects = [next(events) for _ in range(args.events)]

    def validate_and_canonicalise() -> None:
        context = EventContext(catalogue, dt.datetime.now(dt.UTC))
        for event in parse_events(objects, context=context):
            hashlib.sha256(canonical_json(event)).hexdigest()

    parsed = parse_events(objects)
    records = [(subject_key(e).encode(), canonical_json(e)) for e in parsed]
    topic = f"floor-{uuid.uuid4().hex[:6]}"
    with broker(args.bootstrap) as bootstrap:
        ensure_topics(bootstrap, {topic: 6})
        producer = make_producer(bootstrap, client_id="bench-floor", linger_ms=INTAKE_LINGER_MS)
        try:
            producer.send(topic, key=b"warm", value=b"{}").get(30)

            def publish() -> None:
                futures = [producer.send(topic, key=k, value=v) for k, v in records]
                producer.flush(60)
                assert all(f.succeeded() for f in futures)

            send_us = best_cpu_us(publish, args.events, args.rounds)
        finally:
            producer.close(10)
    validate_us = best_cpu_us(validate_and_canonicalise, args.events, args.rounds)
    print(f"(a) publish with the services' producer   {send_us:6.1f} µs CPU per event")
    print(f"(b) validate + canonical JSON + SHA-256    {validate_us:6.1f} µs CPU per event")
    print(f"best possible batch/raw-producer ratio, one process, nothing else counted: "
          f"{send_us / (send_us + validate_us):.2f}")


def best_cpu_us(work, events: int, rounds: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / events * 1e6


if __name__ == "__main__":
    main()
