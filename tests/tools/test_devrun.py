"""The local run (``make run``): its signal handling and where its broker listens."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from devtools.devrun import Stack, interrupt_once, local_settings, make_private, write_private


def test_the_first_signal_stops_the_run_and_a_second_does_not_cut_the_clean_up_short() -> None:
    on_signal = interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        on_signal(signal.SIGINT, None)
    on_signal(signal.SIGTERM, None)  # while stopping: noted, not raised
    on_signal(signal.SIGINT, None)


def test_the_local_broker_moves_off_9092_with_qw_local_kafka_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QW_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("QW_LOCAL_KAFKA_PORT", "29292")
    assert local_settings().kafka_bootstrap == "127.0.0.1:29292"


def test_a_named_broker_wins_over_the_local_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QW_KAFKA_BOOTSTRAP", "broker.example:9092")
    monkeypatch.setenv("QW_LOCAL_KAFKA_PORT", "29292")
    assert local_settings().kafka_bootstrap == "broker.example:9092"


def test_the_data_folder_is_made_private_and_stays_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "qualitywatch.db").write_text("x")
    (data / "logs" / "alerts.log").write_text("x")
    for path in (data, data / "logs", data / "qualitywatch.db", data / "logs" / "alerts.log"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    old_umask = os.umask(0o022)
    try:
        make_private(data)
        (data / "later.log").write_text("created after")
        write_private(data / "admin-token", "secret")
    finally:
        os.umask(old_umask)
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in [data, *data.rglob("*")]}
    assert modes == {"data": 0o700, "data/logs": 0o700, "data/qualitywatch.db": 0o600,
                     "data/logs/alerts.log": 0o600, "data/later.log": 0o600, "data/admin-token": 0o600}


def test_the_demo_feed_gets_the_token_from_its_environment_not_its_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QW_DATA_DIR", str(tmp_path))
    stack = Stack(settings=local_settings(), token="tok-secret-0123456789")
    spawned: list[list[str]] = []
    monkeypatch.setattr(stack.services, "spawn", lambda name, argv: spawned.append(argv))
    monkeypatch.setattr(stack.services, "ports", {"intake": 8001, "indicators": 8002, "alerts": 8003})
    monkeypatch.delenv("QW_DEMO", raising=False)
    stack.start_demo()
    (argv,) = spawned
    assert not any("tok-secret" in arg for arg in argv)
    assert stack.services.env()["QW_ADMIN_TOKEN"] == "tok-secret-0123456789"
