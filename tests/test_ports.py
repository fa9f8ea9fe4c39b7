"""Ports for the test servers: free, and outside the range the kernel hands out to outgoing connections."""

from __future__ import annotations

import socket

from devtools.ports import _ephemeral_low, free_port, free_port_pair


def test_a_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    low = _ephemeral_low()
    for _ in range(20):
        port = free_port()
        assert 10_000 <= port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_free_pair_has_both_ports_free() -> None:
    port = free_port_pair()
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", port))
        second.bind(("127.0.0.1", port + 1))
