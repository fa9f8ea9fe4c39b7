"""Alembic environment: one schema for the three services, each owning its own tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from shared.db import Base, make_engine
from shared.models import import_all_models

import_all_models()
target_metadata = Base.metadata


def database_url() -> str:
    """The URL ``shared.db.alembic_config`` put in the configuration."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no sqlalchemy.url in the Alembic configuration; use shared.db.alembic_config(url)")
    return url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = database_url()
    engine = make_engine(url) if url.startswith("sqlite") else None
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            # Services starting together must not race to create the same tables: hold a
            # session-level lock until the migration is committed.
            connection.exec_driver_sql("SELECT pg_advisory_lock(73201)")
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                              compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if postgres:
                connection.rollback()
                connection.exec_driver_sql("SELECT pg_advisory_unlock(73201)")
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
