"""SQLite's write-ahead log is checkpointed from a background thread, not by the writers' commits."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from shared.db import WalCheckpointer, make_engine

ROW = "x" * 2000


def write_pages(engine, rows: int) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT)"))
    for _ in range(0, rows, 100):
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO filler (body) VALUES (:body)"), [{"body": ROW}] * 100)


def test_with_background_checkpoints_the_writers_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/qw.db", background_checkpoints=True)
    write_pages(engine, 3000)  # ~1,500 pages: past SQLite's own threshold of 1,000
    database = tmp_path / "qw.db"
    assert database.stat().st_size < 1_000_000, "a writer's commit checkpointed the WAL itself"

    busy, frames, done = WalCheckpointer(engine).checkpoint()

    assert (busy, done) == (0, frames) and frames > 1000
    assert database.stat().st_size > 5_000_000
    engine.dispose()


def test_without_background_checkpoints_the_writers_commits_checkpoint_as_sqlite_does(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/qw.db")
    write_pages(engine, 3000)
    assert (tmp_path / "qw.db").stat().st_size > 1_000_000
    engine.dispose()


def test_the_checkpointer_thread_moves_the_wal_into_the_database_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/qw.db", background_checkpoints=True)
    checkpointer = WalCheckpointer(engine, interval=0.05)
    checkpointer.start()
    try:
        write_pages(engine, 3000)
        deadline = time.monotonic() + 10
        while (tmp_path / "qw.db").stat().st_size < 5_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "qw.db").stat().st_size > 5_000_000
    finally:
        checkpointer.stop()
        engine.dispose()
    assert not checkpointer.alive
