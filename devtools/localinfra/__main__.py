"""CLI for scripts and CI: ``python -m devtools.localinfra kafka-jars|kafka-start|kafka-stop|pg-start|pg-stop``.

Default homes are ``$QW_DATA_DIR/kafka`` and ``$QW_DATA_DIR/postgres`` (QW_DATA_DIR defaults to .qw-data).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from devtools.localinfra.kafka import KafkaInfraError, LocalKafka
from devtools.localinfra.logfields import log_with_fields
from devtools.localinfra.postgres import LocalPostgres, PostgresInfraError

logger = logging.getLogger("devtools.localinfra")
_log = partial(log_with_fields, logger)


DEFAULT_PORTS = {"kafka": 9092, "postgres": 55432}


def data_dir() -> Path:
    return Path(os.environ.get("QW_DATA_DIR", ".qw-data"))


def _kafka(args: argparse.Namespace) -> LocalKafka:
    port = args.port or DEFAULT_PORTS["kafka"]
    controller_port = args.controller_port or port + 1
    home = args.home or data_dir() / "kafka"
    return LocalKafka(home, port=port, controller_port=controller_port, heap_mb=args.heap_mb)


def _postgres(args: argparse.Namespace) -> LocalPostgres:
    return LocalPostgres(args.home or data_dir() / "postgres", port=args.port or DEFAULT_PORTS["postgres"])


def kafka_jars(args: argparse.Namespace) -> None:
    print(_kafka(args).ensure_jars())


def kafka_start(args: argparse.Namespace) -> None:
    kafka = _kafka(args)
    kafka.start(timeout=args.timeout)
    print(kafka.bootstrap)


def kafka_stop(args: argparse.Namespace) -> None:
    _kafka(args).stop()


def pg_start(args: argparse.Namespace) -> None:
    pg = _postgres(args)
    pg.start(timeout=args.timeout)
    print(pg.url())


def pg_stop(args: argparse.Namespace) -> None:
    _postgres(args).stop()


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "kafka-jars": kafka_jars,
    "kafka-start": kafka_start,
    "kafka-stop": kafka_stop,
    "pg-start": pg_start,
    "pg-stop": pg_stop,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.localinfra", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--home", type=Path, default=None,
                        help="data folder (default: $QW_DATA_DIR/kafka or $QW_DATA_DIR/postgres)")
    parser.add_argument("--port", type=int, default=None, help="kafka: 9092, postgres: 55432")
    parser.add_argument("--controller-port", type=int, default=None, help="kafka controller (default port+1)")
    parser.add_argument("--heap-mb", type=int, default=512, help="kafka JVM heap")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for readiness")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    started = time.monotonic()
    try:
        COMMANDS[args.command](args)
    except (KafkaInfraError, PostgresInfraError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    _log(logging.INFO, "done", {"command": args.command, "seconds": round(time.monotonic() - started, 2)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
