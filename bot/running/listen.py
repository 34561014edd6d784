"""The listening socket, bound before anything else starts.

Binding first means a port that is taken is reported in plain words ("port 3000 is in use")
before the database is touched or a worker process is started, and uvicorn then serves on
the socket it was given instead of binding (and failing) on its own."""

from __future__ import annotations

import errno
import socket

from bot.errors import StartupError

__all__ = ["bind_listener"]


def bind_listener(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket on ``host:port``; StartupError says why there is none."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections whose
    # socket says TCP, and with Nagle on every small answer waited ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StartupError(_why(exc, host, port)) from None
    sock.set_inheritable(True)
    return sock


def _why(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use on {host}: stop what listens there or choose --port"
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need privileges)"
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return f"cannot listen on {host}: no such address on this host"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
