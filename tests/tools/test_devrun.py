"""The local run (``make run``): its signal handling and where its broker listens."""

from __future__ import annotations

import signal

import pytest

from devtools.devrun import interrupt_once, local_settings


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
