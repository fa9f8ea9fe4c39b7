"""In-process apps for schemathesis: SQLite, migrated, no broker and no background threads."""

from __future__ import annotations

import tempfile
from pathlib import Path

from shared.db import migrate
from shared.settings import Settings

ADMIN = "fuzz-admin-token-0123456789"


def settings_in_temp_dir(name: str) -> Settings:
    """A fresh, migrated SQLite database; Kafka points nowhere (the apps run no consumer here)."""
    folder = Path(tempfile.mkdtemp(prefix=f"qw-fuzz-{name}-"))
    url = f"sqlite:///{folder}/qw.db"
    migrate(url)
    return Settings(data_dir=folder, database_url=url, admin_token=ADMIN, kafka_bootstrap="127.0.0.1:1",
                    allow_private_webhooks=False)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}
