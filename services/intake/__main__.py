"""``python -m services.intake``: migrate, ensure topics, serve on settings.intake_port."""

from __future__ import annotations

import logging

import uvicorn

from services.intake.app import create_app
from shared.db import migrate
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.settings import Settings

logger = logging.getLogger("services.intake")


def main() -> None:
    settings = Settings()
    configure_logging("intake", settings.log_level, settings.log_json)
    migrate(settings.effective_database_url)
    try:
        ensure_topics(settings.kafka_bootstrap, {settings.events_topic: 6, settings.figures_topic: 3,
                                                 settings.dead_letter_topic: 1})
    except Exception as exc:  # noqa: BLE001 - intake starts anyway and answers 503 until Kafka is back
        logger.warning("could not ensure topics; Kafka unreachable?", extra={"error": str(exc)})
    app = create_app(settings)
    uvicorn.run(app, host=settings.bind_host, port=settings.intake_port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
