"""The local run's signal handling (``make run``)."""

from __future__ import annotations

import signal

import pytest

from devtools.devrun import interrupt_once


def test_the_first_signal_stops_the_run_and_a_second_does_not_cut_the_clean_up_short() -> None:
    on_signal = interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        on_signal(signal.SIGINT, None)
    on_signal(signal.SIGTERM, None)  # while stopping: noted, not raised
    on_signal(signal.SIGINT, None)
