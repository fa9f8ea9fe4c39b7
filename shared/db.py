"""Database plumbing: the declarative base, engines, sessions and migrations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from shared.periodic import PeriodicTask

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC; SQLite gives it back aware too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Every model maps one ``Table`` (no joins or selects), so ``Model.__table__`` is typed as one."""

    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime}


# Every query the services run reads a bounded set of rows (a window's tallies, a batch's subjects): starting
# parallel workers for one costs more than it saves (a province's year figure: 10.7 ms with two, 4.7 without).
PG_OPTIONS = "-c max_parallel_workers_per_gather=0"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for the URL; SQLite files get WAL, a busy timeout and foreign keys; PostgreSQL sessions run
    without parallel query (``PG_OPTIONS``)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True,
                         connect_args={"options": PG_OPTIONS})


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def start_wal_checkpointer(engine: Engine, interval: float = 0.25) -> PeriodicTask | None:
    """SQLite: start a thread that copies the write-ahead log into the database file every ``interval``
    seconds (``wal_checkpoint``) and return it; the caller stops it before disposing of the engine.
    PostgreSQL: nothing to do, None.

    SQLite's writers checkpoint on their own once the WAL holds 1,000 pages, copying and syncing in the
    committing thread. With this thread copying as the WAL grows, the writers' own checkpoints find most
    pages already copied, and the WAL still restarts at its usual size (a higher writer threshold lets a
    busy writer grow the WAL without bound). The indicators service, the busy writer, runs one for the
    file the services share; bench/RESULTS.md has the measurements."""
    if engine.dialect.name != "sqlite":
        return None
    checkpointer = PeriodicTask(lambda: wal_checkpoint(engine), interval, name="sqlite-checkpoint",
                                failure="WAL checkpoint failed; the writers' own checkpoints remain")
    checkpointer.start()
    return checkpointer


def wal_checkpoint(engine: Engine) -> tuple[int, int, int]:
    """One PASSIVE checkpoint (it never blocks writers or readers, and the driver releases the GIL while
    it runs): (1 if another checkpoint held the lock, WAL frames, frames copied into the database file;
    frames that an open reader still needs stay behind until a later checkpoint)."""
    with engine.connect() as connection:
        busy, frames, done = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return int(busy), int(frames), int(done)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits once at the end, rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def alembic_config(url: str) -> Config:
    """Alembic's configuration for this package's migrations against the URL (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema to the head revision. Safe to run on every start; each process runs it once,
    before it serves (``shared.serve``).

    The history has one head: a second one (two migrations revising the same parent) fails here
    rather than being applied in no particular order. Services that start together serialise here:
    PostgreSQL through an advisory lock (see the Alembic env), an SQLite file through a lock file
    beside it.
    """
    from alembic import command

    with _sqlite_migration_lock(url):
        command.upgrade(alembic_config(url), "head")


@contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        yield
        return
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.db upgrade``: migrate the configured database (a one-shot job).
    ``python -m shared.db revision MESSAGE``: write a new migration on the single head, autogenerated from
    the difference between the models and the configured database (upgrade it first)."""
    import sys

    from alembic import command

    from shared.settings import Settings

    args = sys.argv[1:] if argv is None else argv
    url = Settings().effective_database_url
    if args == ["upgrade"]:
        migrate(url)
        return 0
    if len(args) == 2 and args[0] == "revision":
        command.revision(alembic_config(url), message=args[1], autogenerate=True)
        return 0
    print("usage: python -m shared.db upgrade | python -m shared.db revision MESSAGE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
