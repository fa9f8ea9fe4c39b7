"""``python -m services.indicators``: migrate, ensure topics, serve on ``settings.indicators_port``."""

from __future__ import annotations

import uvicorn

from services.indicators.app import create_app
from shared.db import migrate
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.settings import Settings, topic_partitions


def main() -> None:
    settings = Settings()
    configure_logging("indicators", settings.log_level, settings.log_json)
    migrate(settings.effective_database_url)
    ensure_topics(settings.kafka_bootstrap,
                  {settings.topic(name): partitions for name, partitions in topic_partitions().items()})
    uvicorn.run(create_app(settings), host=settings.bind_host, port=settings.indicators_port,
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
