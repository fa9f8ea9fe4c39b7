"""The 0004 migration creates exactly the tables the alert models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.alerts import models
from shared.db import Base, make_engine, migrate
from shared.models import import_all_models

ALERT_TABLES = {t.name for t in Base.metadata.sorted_tables if t.name in {
    models.Alert.__tablename__, models.AlertTransition.__tablename__, models.Subscription.__tablename__,
    models.Delivery.__tablename__, models.DeliveryAlert.__tablename__, models.DeliveryAttempt.__tablename__,
    models.Silence.__tablename__}}


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if name is not None and hasattr(part, "columns"):
            return name
        if isinstance(part, str) and part in ALERT_TABLES:
            return part
    return None


def test_the_migrated_schema_matches_the_alert_models(db_url: str) -> None:
    import_all_models()
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    ours = [d for d in diffs if _table_of(d) in ALERT_TABLES]
    assert len(ALERT_TABLES) == 7
    assert ours == []
