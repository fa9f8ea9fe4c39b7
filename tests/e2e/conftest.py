"""Fixtures for end-to-end tests: the three services as processes on the real broker and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.launcher import ServiceProcesses
from devtools.localinfra import LocalKafka


@pytest.fixture
def stack(kafka_broker: LocalKafka, pg_url: str, kafka_topic_prefix: str, tmp_path: Path) -> Iterator[ServiceProcesses]:
    services = ServiceProcesses(bootstrap=kafka_broker.bootstrap, database_url=pg_url,
                                topic_prefix=kafka_topic_prefix, data_dir=tmp_path)
    try:
        services.start()
        yield services
    finally:
        services.stop()


