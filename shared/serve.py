"""How each service process starts: ``python -m services.<name>``.

Logging, database migrations, the topics, then uvicorn. A broker that is down at start does not stop
the service: it starts, ``/readyz`` names Kafka as failing, and it recovers when the broker is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.db import migrate
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.settings import Settings, topic_partitions

logger = logging.getLogger(__name__)


def serve(service: str, create_app: Callable[[Settings], FastAPI], port: Callable[[Settings], int]) -> None:
    settings = Settings()
    configure_logging(service, settings.log_level, settings.log_json)
    migrate(settings.effective_database_url)
    try:
        ensure_topics(settings.kafka_bootstrap,
                      {settings.topic(name): partitions for name, partitions in topic_partitions().items()})
    except Exception as exc:  # noqa: BLE001 - start anyway; readiness reports Kafka until it answers
        logger.warning("could not ensure topics; starting anyway", extra={"error": str(exc)})
    uvicorn.run(create_app(settings), host=settings.bind_host, port=port(settings), log_config=None,
                access_log=False)
