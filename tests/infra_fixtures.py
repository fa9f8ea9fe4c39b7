"""Pytest plugin: a real Kafka broker and PostgreSQL server for the test session.

Enable with ``pytest_plugins = ["tests.infra_fixtures"]`` in tests/conftest.py. Servers start lazily
(only when a test asks for them) and stop at the end of the session.

Environment: QW_TEST_KAFKA_PORT (default 29092; controller port is +1), QW_TEST_PG_PORT (default 55433).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.localinfra import LocalKafka, LocalPostgres

DEFAULT_KAFKA_PORT = 29092
DEFAULT_PG_PORT = 55433


def _env_port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    port = _env_port("QW_TEST_KAFKA_PORT", DEFAULT_KAFKA_PORT)
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), port=port, controller_port=port + 1)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    # Not under pytest's tmp dir: as root that is mode 0700 and the 'postgres' OS user, which runs the
    # server, could not reach it. mkdtemp in the system temp dir is reachable once chowned.
    home = Path(tempfile.mkdtemp(prefix="qw-test-pg-"))
    server = LocalPostgres(home, port=_env_port("QW_TEST_PG_PORT", DEFAULT_PG_PORT))
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(server.base, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: LocalPostgres) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped afterwards)."""
    name = _unique("t_")
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/qw.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(fixture)


@pytest.fixture
def kafka_topic_prefix() -> str:
    """A unique topic prefix per test, so tests never share topics on the session broker."""
    return _unique("t") + "-"
