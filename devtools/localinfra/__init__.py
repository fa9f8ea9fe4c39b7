"""Local infrastructure for tests, CI and development: a real Kafka broker and PostgreSQL, no Docker.

- :class:`LocalKafka` runs Apache Kafka (a single combined KRaft node) from Maven Central jars.
- :class:`LocalPostgres` runs a private PostgreSQL cluster from the Debian binaries.

Nothing here has module-level side effects; everything starts explicitly.
"""

from devtools.localinfra.kafka import LocalKafka
from devtools.localinfra.postgres import LocalPostgres

__all__ = ["LocalKafka", "LocalPostgres"]
