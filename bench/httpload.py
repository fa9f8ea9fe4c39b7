"""A lean closed-loop HTTP/1.1 load generator on raw asyncio streams (keep-alive, one request in flight per
connection). httpx's AsyncClient spends more CPU per request than the endpoints under test (measured here:
it delivers *fewer* requests/s as concurrency rises, ~130 req/s at 32 connections against an endpoint that
serves ~500 req/s to one sequential client), so with it the "ceiling" measured the client, not the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> int:
    writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
    status_line = await reader.readline()
    length = 0
    chunked = False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while (size := int((await reader.readline()).strip() or b"0", 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length:
        await reader.readexactly(length)
    return int(status_line.split()[1])


async def drive_raw(base: str, path: str, bodies: Callable[[], bytes], *, concurrency: int, seconds: float,
                    per_request: int, headers: dict[str, str]) -> dict[str, Any]:
    """POST ``bodies()`` to ``base + path`` from ``concurrency`` connections for ``seconds`` (after one warm-up
    request per connection). Same result shape as ``bench.bench_intake.drive``."""
    url = urlsplit(base)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n{extra}"
            "Content-Length: ").encode()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    connections = [await asyncio.open_connection(url.hostname, url.port) for _ in range(concurrency)]
    await asyncio.gather(*(_request(r, w, head, bodies()) for r, w in connections))
    stop_at = time.perf_counter() + seconds

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while time.perf_counter() < stop_at:
            body = bodies()
            t0 = time.perf_counter()
            status = await _request(reader, writer, head, body)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    elapsed = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    ok = statuses.get(202, 0)
    latencies.sort()
    return {"requests": sum(statuses.values()), "ok": ok, "seconds": elapsed, "request_rate": ok / elapsed,
            "event_rate": ok * per_request / elapsed, "statuses": statuses, "client": "raw asyncio streams",
            "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None}
