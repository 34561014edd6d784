"""An httpx transport whose every connect, TLS handshake, read and write honours the deadline.

httpx has no total timeout: its read timeout applies to each socket read, so a server sending
one byte every few seconds keeps a call alive forever (encode/httpx#1450). httpcore lets the
network backend be replaced; this backend clamps each operation's timeout to what is left of
``providers.deadline`` and raises httpcore's own timeout errors once nothing is left, so httpx
reports them as ``httpx.TimeoutException`` like any other timeout.
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

from providers import deadline

__all__ = ["deadline_transport"]

_SocketOption = tuple[int, int, int] | tuple[int, int, bytes | int | None]


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    left = deadline.clamp(timeout)
    if left is not None and left <= 0.0:
        raise error("deadline passed")
    return left


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        left = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        left = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport(transport: httpx.HTTPTransport) -> httpx.HTTPTransport:
    """Make ``transport`` honour the deadline. httpx does not take a network backend, so it is
    set on httpcore's pool (``_network_backend``; pinned httpx 0.28 / httpcore 1.0); the
    trickle tests in tests/providers fail if this stops taking effect."""
    pool = transport._pool
    inner = getattr(pool, "_network_backend", None)
    if not isinstance(inner, httpcore.NetworkBackend):
        raise RuntimeError("httpcore's connection pool has no network backend to wrap")
    pool._network_backend = _Backend(inner)  # type: ignore[union-attr]
    return transport
