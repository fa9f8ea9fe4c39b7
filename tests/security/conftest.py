"""One stack for the attack tests: the three services as processes on the real broker and PostgreSQL, plus a
second intake instance on the same database and topics (two intakes racing)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.launcher import ServiceProcesses
from devtools.localinfra import LocalKafka, LocalPostgres
from shared.db import migrate
from tests.support import free_port


@pytest.fixture(scope="module")
def stack(kafka_broker: LocalKafka, postgres_server: LocalPostgres,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcesses]:
    name = f"sec_{uuid.uuid4().hex[:10]}"
    url = postgres_server.create_database(name)
    migrate(url)
    data_dir: Path = tmp_path_factory.mktemp("security-stack")
    services = ServiceProcesses(bootstrap=kafka_broker.bootstrap, database_url=url,
                                topic_prefix=f"sec{uuid.uuid4().hex[:8]}-", data_dir=data_dir)
    try:
        services.start()
        services.ports["intake2"] = port = free_port()
        services.spawn("intake2", [sys.executable, "-m", "services.intake"], env={"QW_INTAKE_PORT": str(port)})
        services.wait_ready("intake2")
        yield services
    finally:
        services.stop()
        postgres_server.drop_database(name)
