"""Slack Web API and response_url calls over kept-alive connections.

Why: slack_sdk sends every call through ``urllib``, which opens a new TCP connection (and,
to Slack, a new TLS session) per call and closes it after one response. A change command
makes two such calls and an approval four or five, so every card, redraw and result paid a
handshake. These subclasses keep one connection per thread and host and reuse it; the rest
of slack_sdk (retry handlers, rate-limit handling, response parsing) is unchanged, because
they replace only the step that turns a ``urllib`` request into a response, and raise what
``urllib`` raises: ``HTTPError`` for a status outside 2xx, ``URLError`` when the request
could not be sent.

A proxy (``proxy=``) goes through slack_sdk's own ``urllib`` path as before.
"""

from __future__ import annotations

import http.client
import io
import ssl
import threading
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

__all__ = ["KeepAliveWebClient", "KeepAliveWebhookClient", "Responder", "send"]

# a kept connection the server closed while idle fails like this on its next use
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

_local = threading.local()


def _connection(
    scheme: str, netloc: str, timeout: float | None, context: ssl.SSLContext | None
) -> tuple[http.client.HTTPConnection, bool]:
    """This thread's connection to ``scheme://netloc``, and whether it was used before."""
    pool: dict[tuple[str, str], http.client.HTTPConnection] = _local.__dict__.setdefault("pool", {})
    conn = pool.get((scheme, netloc))
    if conn is not None:
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn, True
    if scheme == "https":  # no context: http.client's default, which verifies the certificate
        conn = http.client.HTTPSConnection(netloc, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(netloc, timeout=timeout)
    pool[(scheme, netloc)] = conn
    return conn, False


def _drop(scheme: str, netloc: str) -> None:
    conn = _local.__dict__.get("pool", {}).pop((scheme, netloc), None)
    if conn is not None:
        conn.close()


def send(
    req: Request, *, timeout: float | None, context: ssl.SSLContext | None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """POST ``req`` on this thread's kept connection: (status, headers, body).

    A connection that the server closed while idle is replaced once, silently; any other
    failure closes the connection and raises as ``urllib`` would."""
    parts = urlsplit(req.full_url)
    scheme, netloc = parts.scheme.lower(), parts.netloc
    if scheme not in ("http", "https"):
        raise URLError(f"not an HTTP URL: {scheme}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    headers = {name: str(value) for name, value in req.header_items()}
    body = req.data if isinstance(req.data, bytes) else None
    for attempt in (1, 2):
        conn, reused = _connection(scheme, netloc, timeout, context)
        try:
            try:
                conn.request(req.get_method(), path, body=body, headers=headers)
            except OSError as exc:
                if reused and attempt == 1 and isinstance(exc, _STALE):
                    _drop(scheme, netloc)
                    continue
                raise URLError(exc) from exc
            try:
                response = conn.getresponse()
            except _STALE:
                if reused and attempt == 1:
                    _drop(scheme, netloc)
                    continue
                raise
            data = response.read()
        except BaseException:
            _drop(scheme, netloc)
            raise
        if response.will_close:
            _drop(scheme, netloc)
        if not 200 <= response.status < 300:
            raise HTTPError(
                req.full_url, response.status, response.reason, response.msg, io.BytesIO(data)
            )
        return response.status, response.msg, data
    raise AssertionError("unreachable: the second attempt returns or raises")


def _decode(headers: http.client.HTTPMessage, data: bytes) -> str:
    return data.decode(headers.get_content_charset() or "utf-8")


class KeepAliveWebClient(WebClient):
    """A ``WebClient`` whose calls reuse this thread's connection to Slack."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, data = send(req, timeout=self.timeout, context=self.ssl)
        if headers.get_content_type() == "application/gzip":  # admin.analytics.getFile
            return {"status": status, "headers": headers, "body": data}
        return {"status": status, "headers": headers, "body": _decode(headers, data)}


class KeepAliveWebhookClient(WebhookClient):
    """A ``WebhookClient`` (response_url, incoming webhooks) on kept connections."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None:
            return super()._perform_http_request_internal(url, req)
        status, headers, data = send(req, timeout=self.timeout, context=self.ssl)
        return WebhookResponse(
            url=url,
            status_code=status,
            body=_decode(headers, data),
            headers=headers,  # type: ignore[arg-type]
        )


class Responder:
    """Answers the person through a command's ``response_url``, as Bolt's ``Respond`` does
    for the arguments this bot uses, on kept connections."""

    def __init__(self, response_url: str) -> None:
        self.response_url = response_url

    def __call__(
        self,
        text: str = "",
        response_type: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> WebhookResponse:
        message: dict[str, Any] = {"text": text}
        if response_type is not None:
            message["response_type"] = response_type
        if blocks is not None:  # ``text`` is then the notification's fallback
            message["blocks"] = blocks
        return KeepAliveWebhookClient(url=self.response_url).send_dict(message)
