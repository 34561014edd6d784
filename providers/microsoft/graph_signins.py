"""Microsoft Graph sign-in logs: who authenticated with SMTP AUTH since a moment.

``GET {graph_url}/v1.0/auditLogs/signIns`` with ``$filter`` and ``$top``, every page followed
through ``@odata.nextLink`` (only to the same Graph host: the bearer token never goes
elsewhere). The filter holds no user text: the one string literal is a constant, OData-quoted,
and the window's start is a computed UTC datetime. Throttling (429/503/504) waits for
``Retry-After``, bounded, a few times. Needs the application permission ``AuditLog.Read.All``
and a tenant with a Microsoft Entra ID P1 or P2 licence; both refusals are worded.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from providers import deadline
from providers.errors import AuthError, ProtocolError, ProviderTimeout, Unavailable
from providers.http_deadline import deadline_transport
from providers.microsoft.graph_errors import (
    AUDIT_PERMISSION,
    MISSING_PERMISSION,
    graph_error,
    retry_after,
)
from providers.microsoft.signin_query import (
    SMTP_CLIENT_APP,
    odata_datetime,
    odata_string,
    smtp_auth_filter,
    token_roles,
)
from providers.microsoft.tokens import AccessTokens

__all__ = [
    "AUDIT_PERMISSION",
    "GraphSignIns",
    "SMTP_CLIENT_APP",
    "SignIn",
    "SignInLog",
    "odata_datetime",
    "odata_string",
    "smtp_auth_filter",
]

log = logging.getLogger(__name__)

SIGNINS_PATH = "/v1.0/auditLogs/signIns"
PAGE_SIZE = 1000  # Graph's maximum (and default) page size for signIns
_THROTTLED = (429, 503, 504)


@dataclass(frozen=True, slots=True)
class SignIn:
    """One successful SMTP AUTH sign-in as the log records it."""

    user_principal_name: str
    created: datetime
    ip_address: str
    user_id: str = ""


@dataclass(frozen=True, slots=True)
class SignInLog:
    """The sign-ins read, how many pages that took, and whether the page cap cut it short."""

    sign_ins: tuple[SignIn, ...]
    pages: int
    truncated: bool = False


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ProtocolError("A sign-in record has no createdDateTime.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProtocolError("A sign-in record has a malformed createdDateTime.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sign_in(record: object) -> SignIn | None:
    """A record of the page as a SignIn; None for one that is not a successful SMTP AUTH
    sign-in (the filter asked for those only; anything else is not counted)."""
    if not isinstance(record, dict):
        raise ProtocolError("A sign-in record is not an object.")
    status = record.get("status") if isinstance(record.get("status"), dict) else {}
    if record.get("clientAppUsed") != SMTP_CLIENT_APP or status.get("errorCode", 0) != 0:
        return None
    upn = record.get("userPrincipalName")
    if not isinstance(upn, str) or not upn:
        return None  # a sign-in without a user cannot be exempted: not a mailbox row
    return SignIn(
        user_principal_name=upn.lower(),
        created=_parse_time(record.get("createdDateTime")),
        ip_address=str(record.get("ipAddress") or ""),
        user_id=str(record.get("userId") or ""),
    )


class GraphSignIns:
    """Reads SMTP AUTH sign-ins from one tenant's Microsoft Graph. Thread-safe."""

    def __init__(
        self,
        *,
        graph_url: str,
        tokens: AccessTokens,
        verify: bool | str = True,
        timeout_s: float = 30.0,
        retries: int = 3,
        max_wait_s: float = 30.0,
        max_pages: int = 100,
        page_size: int = PAGE_SIZE,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = httpx.URL(graph_url.rstrip("/"))
        if base.scheme != "https" or not base.host or base.path not in ("", "/"):
            raise ValueError("graph_url must be https://host[:port] with no path")
        self._base = str(base).rstrip("/")
        self._scope = f"{self._base}/.default"
        self._tokens = tokens
        self._timeout_s = timeout_s
        self._retries = retries
        self._max_wait_s = max_wait_s
        self._max_pages = max_pages
        self._page_size = page_size
        self._sleep = sleep
        if transport is None:
            transport = deadline_transport(
                httpx.HTTPTransport(
                    verify=_ssl_context(verify),
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                    trust_env=False,  # no environment CA or proxy decides where the token goes
                )
            )
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            trust_env=False,
            follow_redirects=False,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    @property
    def host(self) -> str:
        return httpx.URL(self._base).host

    def close(self) -> None:
        self._http.close()

    def smtp_auth_sign_ins(self, since: datetime) -> SignInLog:
        """Every successful SMTP AUTH sign-in since ``since`` (newest first, as Graph sends
        them), across pages. Raises AuthError, Rejected, Unavailable or ProtocolError."""
        token = self._token()
        url = f"{self._base}{SIGNINS_PATH}"
        params: dict[str, str] | None = {
            "$filter": smtp_auth_filter(since),
            "$top": str(self._page_size),
        }
        found: list[SignIn] = []
        pages = 0
        while url:
            if pages >= self._max_pages:
                return SignInLog(tuple(found), pages, truncated=True)
            body = self._get(url, params, token)
            pages += 1
            values = body.get("value")
            if not isinstance(values, list):
                raise ProtocolError("Microsoft Graph sent a sign-in page without `value`.")
            found.extend(s for s in map(_sign_in, values) if s is not None)
            url, params = self._next(body.get("@odata.nextLink")), None
        return SignInLog(tuple(found), pages)

    def _token(self) -> str:
        token = self._tokens.bearer(self._scope)
        roles = token_roles(token)
        if roles is not None and AUDIT_PERMISSION not in roles:
            raise AuthError(
                MISSING_PERMISSION, detail="the token's roles lack it", before_change=True
            )
        return token

    def _next(self, link: object) -> str:
        """The next page's URL, only on this Graph host and path (empty: the last page)."""
        if link is None:
            return ""
        base = httpx.URL(self._base)
        url = httpx.URL(link) if isinstance(link, str) else None
        same = url is not None and (url.scheme, url.host, url.port) == (
            base.scheme,
            base.host,
            base.port,
        )
        # Graph's own links spell the path "auditLogs/signins" at times: compared without case
        if not same or url is None or url.path.lower() != SIGNINS_PATH.lower():
            raise ProtocolError(
                "Microsoft Graph sent a next-page link elsewhere; it was not followed.",
                detail=f"nextLink host {httpx.URL(str(link)).host!r}",
            )
        return str(link)

    def _get(self, url: str, params: dict[str, str] | None, token: str) -> dict[str, Any]:
        attempt = 0
        while True:
            response = self._send(url, params, token)
            if response.status_code not in _THROTTLED and response.status_code < 500:
                return self._checked(response)
            wait = retry_after(response, attempt)
            left = deadline.remaining()
            if (
                attempt >= self._retries
                or wait > self._max_wait_s
                or (left is not None and left <= wait)
            ):
                raise Unavailable(
                    f"Microsoft Graph answered HTTP {response.status_code} to the sign-in log "
                    f"read {attempt + 1} times (throttled or busy); try again in a few minutes.",
                    detail=f"Retry-After {response.headers.get('Retry-After', 'none')}",
                    before_change=True,
                )
            attempt += 1
            log.warning(
                "Graph signIns answered HTTP %s; retry %d/%d in %.1fs",
                response.status_code,
                attempt,
                self._retries,
                wait,
            )
            self._sleep(wait)

    def _send(self, url: str, params: dict[str, str] | None, token: str) -> httpx.Response:
        if deadline.expired():
            raise ProviderTimeout("The sign-in log read ran out of time.", before_change=True)
        try:
            with deadline.budget(self._timeout_s):
                return self._http.get(
                    url, params=params, headers={"Authorization": f"Bearer {token}"}
                )
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(
                f"Microsoft Graph at {self.host} did not answer within {self._timeout_s:g}s.",
                detail=type(exc).__name__,
                before_change=True,
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"Cannot reach Microsoft Graph at {self.host} ({type(exc).__name__}).",
                detail=str(exc).replace(token, "[redacted]"),
                before_change=True,
            ) from exc

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise graph_error(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolError("Microsoft Graph's sign-in page is not JSON.") from exc
        if not isinstance(body, dict):
            raise ProtocolError("Microsoft Graph's sign-in page is not a JSON object.")
        return body


def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    """The tenant's ``verify_tls``: True, the system's trust store; a path, only that CA
    bundle (a private CA, or a test's); False, no verification (the operator's choice for
    every HTTPS call of the tenant, said in docs/configuration.md)."""
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str) and verify:
        return ssl.create_default_context(cafile=verify)
    raise ValueError("verify must be true, false or the path of a CA bundle")
