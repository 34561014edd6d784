"""The HTTPS transport of the REST client: pooled, deadline-bound, no environment overrides.

Every connect, TLS handshake, read and write honours ``providers.deadline``
(``http_deadline.deadline_transport``); proxies and CA variables from the environment are
ignored, because they could redirect where the bearer token goes.
"""

from __future__ import annotations

import socket
import ssl

import httpx

from providers.http_deadline import deadline_transport
from providers.whm_client import build_ssl_context

__all__ = ["pooled_transport", "tls_refused"]


def pooled_transport(verify_tls: bool | str, connections: int) -> httpx.HTTPTransport:
    """Up to ``connections`` kept-alive connections, trusting ``verify_tls`` (True, False or a
    CA bundle path)."""
    return deadline_transport(
        httpx.HTTPTransport(
            verify=build_ssl_context(verify_tls),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            # a POST leaves as two writes; without NODELAY the body can wait for an ACK
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            trust_env=False,
        )
    )


def tls_refused(exc: BaseException) -> bool:
    """The server's certificate did not verify (retrying cannot help; configuration can)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)
