"""A wall-clock limit on each WinRM HTTP exchange, for pywinrm's requests session.

requests (urllib3) applies its read timeout to each socket read, so a host trickling a reply
one byte at a time keeps an operation alive forever, and urllib3 offers no total deadline.
The ``Cutter`` records every socket its session opens (through the connection classes of an
adapter mounted on pywinrm's session) and, when an operation outlives its limit, shuts those
sockets down from a timer thread: the blocked read returns at once and the operation fails,
which ``limit`` reports as a ProviderTimeout.
"""

from __future__ import annotations

import socket
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Cutter", "OperationCut"]


class OperationCut(Exception):
    """The operation ran past its limit and its connections were shut down."""


class Cutter:
    """The sockets of one pywinrm session, and a timer per operation to cut them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[Any] = weakref.WeakSet()

    def register(self, sock: Any) -> None:
        with self._lock:
            self._sockets.add(sock)

    def install(self, session: requests.Session) -> None:
        """Route the session's connections through sockets this cutter can shut down."""
        adapter = _Adapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)

    @contextmanager
    def limit(self, seconds: float) -> Iterator[None]:
        """Run one operation; raise OperationCut if it was still running after ``seconds``."""
        if seconds <= 0:
            raise OperationCut("no time left")
        cut = threading.Event()  # per operation: a late timer of the last one cannot mark this
        timer = threading.Timer(seconds, self._shut_down, args=(cut,))
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception as exc:
            if cut.is_set():
                raise OperationCut(f"cut after {seconds:g}s") from exc
            raise
        finally:
            timer.cancel()
        if cut.is_set():  # the reply landed as the timer fired: it still counts as late
            raise OperationCut(f"cut after {seconds:g}s")

    def _shut_down(self, cut: threading.Event) -> None:
        cut.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue  # already closed


def _connection(base: type[HTTPConnection], cutter: Cutter) -> type[HTTPConnection]:
    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            cutter.register(self.sock)

    return Connection


class _Adapter(HTTPAdapter):
    def __init__(self, cutter: Cutter) -> None:
        self._cutter = cutter
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http = type("Pool", (HTTPConnectionPool,), {})
        http.ConnectionCls = _connection(HTTPConnection, self._cutter)
        https = type("SPool", (HTTPSConnectionPool,), {})
        https.ConnectionCls = _connection(HTTPSConnection, self._cutter)
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}
