"""A lean closed-loop HTTP/1.1 load generator for the ack benchmark.

Why not httpx: at a few hundred requests per second httpx's AsyncClient spent 3-9 ms of CPU
per request in the load generator alone (more than either app's own ack), on the same two
cores as the apps, so the bench mostly measured the load generator queueing its own events.
This one sends pre-built request bytes over keep-alive connections and reads just the status
line, the headers and ``Content-Length`` bytes of body: 0.15-0.3 ms of CPU per request,
building and signing the requests included.
Both apps get the same generator and the same bodies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["Result", "build_request", "run_closed_loop"]


def build_request(url: str, body: str, headers: dict[str, str]) -> bytes:
    """The raw bytes of a keep-alive ``POST`` of ``body`` to ``url``."""
    parts = urlsplit(url)
    payload = body.encode()
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, send → full response
    errors: int = 0  # non-200 answers and broken connections
    wall_s: float = 0.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``exchange`` sends a request and waits for its response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        self._need = -1  # bytes of the whole response once its headers are in

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._need < 0:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in bytes(self._buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":  # framing this reader does not do
                    self._fail(f"unsupported Transfer-Encoding: {value.strip().decode()}")
                    return
            self._need = end + 4 + length
        if len(self._buffer) >= self._need and self._waiter and not self._waiter.done():
            status = int(self._buffer[9:12])
            del self._buffer[: self._need]
            self._need = -1
            self._waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("connection lost")

    def _fail(self, why: str) -> None:
        if self._waiter and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiter


async def run_closed_loop(url: str, requests: Sequence[bytes], concurrency: int) -> Result:
    """Send ``requests`` from ``concurrency`` clients, each sending its next request when
    the previous one is answered; a broken connection is replaced."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    result = Result()
    queue = iter(requests)

    async def connect() -> _Connection:
        _transport, conn = await loop.create_connection(_Connection, host, port)
        return conn

    async def client() -> None:
        conn = await connect()
        for request in queue:
            t0 = time.perf_counter()
            try:
                status = await conn.exchange(request)
            except ConnectionError:
                status = 0
                conn = await connect()
            result.latencies.append(time.perf_counter() - t0)
            result.errors += status != 200
        if conn.transport is not None:
            conn.transport.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - t0
    return result
