"""What every loopback fake server shares: a threaded HTTP(S) server that does each TLS
handshake in the connection's own thread (not in the accept loop) and stays quiet about
client aborts, and the start / stop / ``with`` life of a fake built on it."""

from __future__ import annotations

import ssl
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = ["LoopbackFake", "LoopbackServer"]


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    fake: Any  # the fake whose handle() the request handler calls
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client aborts (timeouts, failed handshakes) are expected; stay quiet."""


class LoopbackFake:
    """Base of a fake server on 127.0.0.1 at a free port: a subclass names its request
    handler (``_handler``) and its TLS context (``_tls_context``; None: plain HTTP)."""

    https_host: ClassVar[str] = "localhost"  # the name its test certificate is issued for
    _server: LoopbackServer | None = None
    url: str = ""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise TypeError(f"{type(self).__name__} names no request handler")

    def _tls_context(self) -> ssl.SSLContext | None:
        return getattr(self, "_tls", None)

    def start(self) -> Self:
        server = LoopbackServer(("127.0.0.1", 0), self._handler())
        server.fake, server.tls = self, self._tls_context()
        self._server = server
        port = server.server_address[1]
        self.url = f"https://{self.https_host}:{port}" if server.tls else f"http://127.0.0.1:{port}"
        serve = partial(server.serve_forever, poll_interval=0.02)  # a fast stop()
        name = f"fake-{type(self).__name__}"
        threading.Thread(target=serve, name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
