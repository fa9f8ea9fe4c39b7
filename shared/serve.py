"""How each service process starts: ``python -m services.<name>``.

Logging, database migrations, the topics, then uvicorn, with deadlines for a request's headers and body
(``shared.timeouts``). A broker that is down at start does not stop
the service: it starts, ``/readyz`` names Kafka as failing, and it recovers when the broker is back.

Before serving, everything alive (modules, the app and its routes and schemas, the catalogue) is moved
out of the cyclic collector's view (``gc.freeze``): otherwise each full collection re-scans that
long-lived heap, a pause long enough to show in intake's tail latency (p99 ~100 ms instead of ~15 ms
under load; bench/RESULTS.md).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.db import migrate
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.settings import Settings, topic_partitions
from shared.timeouts import timed_protocol

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
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=settings.bind_host, port=port(settings), log_config=None,
                access_log=False, http=timed_protocol(settings.header_timeout_seconds, settings.body_timeout_seconds))
