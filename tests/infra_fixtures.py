"""Pytest plugin: a real Kafka broker and PostgreSQL server for the test session, and truthful markers.

Enable with ``pytest_plugins = ["tests.infra_fixtures"]`` in tests/conftest.py. Servers start lazily
(only when a test asks for them) and stop at the end of the session. They listen on free ports, so two
runs on one machine do not clash; QW_TEST_KAFKA_PORT (controller: +1) and QW_TEST_PG_PORT pin them.

A test that uses a server is marked ``integration`` from the fixtures it asks for (so the marker cannot
drift from what the test does), and one that starts a server without the marker fails in setup: so
``-m "not integration and not e2e and not drill"`` never needs a broker or PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.localinfra import LocalKafka, LocalPostgres
from devtools.ports import free_port, free_port_pair

# Fixtures that start (or hand out) a real server; every test using one, directly or through another
# fixture, is an integration test.
SERVER_FIXTURES = frozenset({"kafka_broker", "postgres_server", "pg_url"})
_servers_started: list[str] = []


def _env_port(name: str, pick: Callable[[], int]) -> int:
    return int(os.environ.get(name) or pick())


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def _refuse_unmarked_server_start(item: pytest.Item, since: int) -> None:
    started = _servers_started[since:]
    if started and item.get_closest_marker("integration") is None:
        pytest.fail(f"{item.nodeid} started {', '.join(started)} but is not marked integration", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Fail a test that starts a server without the integration marker (through
    ``request.getfixturevalue``, say), rather than let an unmarked test reach for a broker."""
    since = len(_servers_started)
    result = yield
    _refuse_unmarked_server_start(item, since)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    since = len(_servers_started)
    result = yield
    _refuse_unmarked_server_start(item, since)
    return result


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    port = _env_port("QW_TEST_KAFKA_PORT", free_port_pair)
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), port=port, controller_port=port + 1)
    _servers_started.append("the Kafka broker")
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
    server = LocalPostgres(home, port=_env_port("QW_TEST_PG_PORT", free_port))
    _servers_started.append("PostgreSQL")
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(fixture)


@pytest.fixture
def kafka_topic_prefix() -> str:
    """A unique topic prefix per test, so tests never share topics on the session broker."""
    return _unique("t") + "-"
