"""``python -m services.alerts``: migrate, make sure the topics exist, serve on ``alerts_port``."""

from __future__ import annotations

import logging

import uvicorn

from services.alerts.app import create_app
from shared.db import migrate
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.settings import Settings, topic_partitions

logger = logging.getLogger("services.alerts")


def main() -> None:
    settings = Settings()
    configure_logging("alerts", settings.log_level, settings.log_json)
    migrate(settings.effective_database_url)
    try:
        ensure_topics(settings.kafka_bootstrap,
                      {settings.topic(name): parts for name, parts in topic_partitions().items()})
    except Exception:  # noqa: BLE001 - the consumer retries until the broker answers; /readyz says so
        logger.warning("could not ensure topics; starting anyway", exc_info=True)
    app = create_app(settings)
    uvicorn.run(app, host=settings.bind_host, port=settings.alerts_port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
