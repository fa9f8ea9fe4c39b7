"""Local TCP ports: pick a free one, or see whether something listens on one."""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST_PORT = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A port nothing is bound to right now, for a server about to start.

    Picked below the kernel's ephemeral range: a port from that range (the kernel's own pick for
    ``bind(0)``) can be taken as the source port of any outgoing connection while its server is down,
    so a broker killed and started again on it found it in use (a test drill that restarts the
    session's broker failed that way)."""
    ceiling = _ephemeral_low()
    for _ in range(1_000):
        port = random.randrange(LOWEST_PORT, ceiling)
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port found between {LOWEST_PORT} and {ceiling}")


def free_port_pair() -> int:
    """A free port whose successor is free too (Kafka's broker and controller listen on port and port+1)."""
    while True:
        port = free_port()
        if _bindable(port + 1):
            return port


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    """The lowest port of the kernel's ephemeral range (32768 where it cannot be read)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768
