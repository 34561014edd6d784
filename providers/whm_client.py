"""Low-level WHM API 1 client: one pooled HTTP connection set, envelope checks, typed errors.

Everything WHM-specific about transport lives here so that ``providers/whm.py`` only deals in
scopes, verbs and states. Every call this bot makes is idempotent (it sets a state), so every
transient failure (connect error, timeout, 5xx) is retried with bounded exponential backoff.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from providers import deadline
from providers.errors import AuthError, ProtocolError, ProviderTimeout, Rejected, Unavailable
from providers.http_deadline import deadline_transport

__all__ = ["TlsVerificationFailed", "WhmClient", "build_ssl_context", "flag"]

log = logging.getLogger(__name__)

AUTH_MESSAGE = "WHM rejected the API token"
_FUNCTION_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_BACKOFF_S = 5.0


class TlsVerificationFailed(Unavailable):
    """The server's certificate did not verify; retrying cannot help, configuration can."""

    retryable = False


def build_ssl_context(verify: bool | str) -> ssl.SSLContext:
    """Turn ``verify_tls`` (True, False or a CA bundle path) into a client SSL context.

    True uses the system trust store; a path trusts only that bundle (pin a self-signed WHM).
    """
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str) and verify:
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"verify_tls: cannot load CA bundle {verify!r}: {exc}") from exc
    raise ValueError("verify_tls must be true, false or the path of a CA bundle")


def _is_tls_verify_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def flag(value: object) -> int:
    """A WHM 0/1 boolean as an int; anything else is a protocol error."""
    if value in (1, "1", True):
        return 1
    if value in (0, "0", False, None):
        return 0
    raise ProtocolError(f"WHM sent {value!r} where a 0/1 flag was expected")


def _dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"WHM reply has no {what}")
    return value


class WhmClient:
    """Calls ``/json-api/<function>`` with ``api.version=1`` and returns checked envelopes.

    Thread-safe: one ``httpx.Client`` (connection pool) is shared by all threads, and a
    semaphore caps the number of requests in flight at ``max_concurrency``.
    """

    def __init__(
        self,
        *,
        url: str,
        username: str,
        token: str,
        verify: bool | str = True,
        timeout_s: float = 30.0,
        max_concurrency: int = 8,
        retries: int = 3,
        backoff_s: float = 0.25,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_concurrency < 1 or retries < 0:
            raise ValueError("max_concurrency must be >= 1 and retries >= 0")
        self._token = token
        self._retries = retries
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._host = httpx.URL(url).host or url
        if transport is None:
            transport = deadline_transport(
                httpx.HTTPTransport(
                    verify=build_ssl_context(verify),
                    limits=httpx.Limits(
                        max_connections=max_concurrency, max_keepalive_connections=max_concurrency
                    ),
                    # A POST leaves as two writes; without NODELAY the body can wait for an ACK.
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                    # Environment proxies and CA variables must not redirect where the token goes.
                    trust_env=False,
                )
            )
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"whm {username}:{token}"},
            timeout=httpx.Timeout(timeout_s),
            trust_env=False,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def call(self, function: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Call one WHM API 1 function; return the envelope when ``metadata.result`` is 1.

        Raises AuthError, Rejected (the server's reason as sent), ProtocolError or Unavailable
        (after ``retries`` further attempts). Each attempt may take ``timeout_s`` of wall-clock
        time in all; no retry starts, and no backoff sleeps, past the caller's deadline
        (ProviderTimeout then).
        """
        if not _FUNCTION_RE.match(function):
            raise ValueError(f"not a WHM function name: {function!r}")
        form = {**(params or {}), "api.version": "1"}
        attempt = 0
        while True:
            try:
                return self._call_once(function, form)
            except Unavailable as exc:
                if not exc.retryable or attempt >= self._retries:
                    raise
                delay = min(self._backoff_s * 2**attempt, _MAX_BACKOFF_S)
                delay *= 0.5 + random.random() / 2  # jitter: bulk retries do not stampede
                left = deadline.remaining()
                if left is not None and left <= delay:
                    raise self._out_of_time(function) from exc
                attempt += 1
                log.warning(
                    "WHM %s failed (%s); retry %d/%d in %.2fs",
                    function,
                    exc.user_message,
                    attempt,
                    self._retries,
                    delay,
                )
                self._sleep(delay)

    def uapi(
        self, user: str, module: str, function: str, params: Mapping[str, str] | None = None
    ) -> Any:
        """Call a cPanel UAPI function for ``user`` through ``uapi_cpanel``; return its data.

        ``metadata.result`` is 1 even when the UAPI call failed, so ``data.uapi.status`` is
        checked too: status 0 becomes Rejected with the UAPI errors as sent.
        """
        body = self.call(
            "uapi_cpanel",
            {
                **(params or {}),
                "cpanel.user": user,
                "cpanel.module": module,
                "cpanel.function": function,
            },
        )
        data = body.get("data")
        uapi = data.get("uapi") if isinstance(data, dict) else None
        if not isinstance(uapi, dict) or "status" not in uapi:
            raise ProtocolError(
                f"WHM reply to {module}::{function} has no data.uapi result",
                detail="uapi_cpanel envelope without data.uapi.status",
            )
        if uapi["status"] in (1, "1", True):
            return uapi.get("data")
        if uapi["status"] in (0, "0", False):
            errors = uapi.get("errors")
            texts = [str(e) for e in errors] if isinstance(errors, list) else []
            message = self._scrub("; ".join(texts)) or f"WHM refused {module}::{function}"
            raise Rejected(message, detail=f"uapi_cpanel {module}::{function}: status 0")
        raise ProtocolError(f"WHM reply to {module}::{function} has an invalid UAPI status")

    # -- documented reads: shapes are checked here, meaning is decided by the provider ----

    def domain_owner(self, domain: str) -> str | None:
        """``getdomainowner``: the owning cPanel user, None when no account serves it."""
        data = _dict(self.call("getdomainowner", {"domain": domain}).get("data"), "data")
        user = data.get("user")
        if user is None or user == "":
            return None
        if not isinstance(user, str):
            raise ProtocolError(f"WHM getdomainowner sent a non-text user for {domain}")
        return user

    def tweak_value(self, key: str) -> int | None:
        """``get_tweaksetting``: the 0/1 value, None when it is not set."""
        data = _dict(self.call("get_tweaksetting", {"key": key}).get("data"), "data")
        value = _dict(data.get("tweaksetting"), "data.tweaksetting").get("value")
        return None if value is None else flag(value)

    def account(self, user: str) -> dict[str, Any] | None:
        """``accountsummary``: the account's record, None when the list lacks it."""
        data = _dict(self.call("accountsummary", {"user": user}).get("data"), "data")
        accts = data.get("acct")
        if not isinstance(accts, list):
            raise ProtocolError("WHM accountsummary reply has no data.acct list")
        return next((a for a in accts if isinstance(a, dict) and a.get("user") == user), None)

    def privileges(self) -> dict[str, bool]:
        """``myprivs``: the token's ACL names and whether each is granted."""
        data = _dict(self.call("myprivs").get("data"), "data")
        privs = data.get("privileges")
        if not isinstance(privs, list) or not privs:
            raise ProtocolError("WHM myprivs reply has no privileges list")
        return {str(name): bool(flag(value)) for name, value in _dict(privs[0], "ACLs").items()}

    def mailbox(self, owner: str, address: str) -> dict[str, Any] | None:
        """``Email::list_pops_with_disk`` with restrictions for one address, or None."""
        local, domain = address.rsplit("@", 1)
        params = {"domain": domain, "email": local, "get_restrictions": "1"}
        items = self.uapi(owner, "Email", "list_pops_with_disk", params)
        if not isinstance(items, list):
            raise ProtocolError("WHM list_pops_with_disk reply has no data list")
        wanted = address.lower()
        for item in items:
            if isinstance(item, dict) and str(item.get("email", "")).lower() == wanted:
                return item
        return None

    def _out_of_time(self, function: str) -> ProviderTimeout:
        return ProviderTimeout(
            f"WHM at {self._host} did not answer {function} before the request's time ran out",
            detail="caller's deadline passed",
        )

    def _call_once(self, function: str, form: dict[str, str]) -> dict[str, Any]:
        if deadline.expired():
            raise self._out_of_time(function)
        try:
            # connect, TLS, the request and every read of the reply share one budget
            with self._slots, deadline.budget(self._timeout_s):
                response = self._http.post(f"/json-api/{function}", data=form)
        except httpx.TimeoutException as exc:
            if deadline.expired():
                raise self._out_of_time(function) from exc
            raise ProviderTimeout(
                f"WHM at {self._host} did not answer {function} within {self._timeout_s:g}s",
                detail=type(exc).__name__,
            ) from exc
        except httpx.TransportError as exc:
            if _is_tls_verify_error(exc):
                raise TlsVerificationFailed(
                    f"TLS verification failed for WHM at {self._host}: the certificate is not "
                    "trusted (set verify_tls to the server's CA bundle path)",
                    detail=self._scrub(str(exc)),
                ) from exc
            raise Unavailable(
                f"cannot reach WHM at {self._host} ({type(exc).__name__})",
                detail=self._scrub(str(exc)),
            ) from exc
        return self._envelope(function, response)

    def _envelope(self, function: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            # The body is never parsed or shown: it may echo request details.
            raise AuthError(AUTH_MESSAGE, detail=f"HTTP {status} on {function}")
        if status >= 500 or status == 429:
            raise Unavailable(f"WHM at {self._host} answered HTTP {status} to {function}")
        if status != 200:
            raise ProtocolError(f"WHM at {self._host} answered HTTP {status} to {function}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolError(
                f"WHM reply to {function} is not JSON",
                detail=f"content-type {response.headers.get('content-type', '?')!r}",
            ) from exc
        meta = body.get("metadata") if isinstance(body, dict) else None
        if not isinstance(meta, dict):
            raise ProtocolError(
                f"WHM reply to {function} has no metadata (not a WHM API 1 envelope)",
                detail="top-level keys: " + ", ".join(sorted(body)[:8])
                if isinstance(body, dict)
                else type(body).__name__,
            )
        result = meta.get("result")
        if result in (1, "1", True):
            return body
        if result in (0, "0", False):
            reason = self._scrub(str(meta.get("reason") or "")) or f"WHM refused {function}"
            raise Rejected(reason, detail=f"{function}: metadata.result=0")
        raise ProtocolError(f"WHM reply to {function} has no valid metadata.result")

    def _scrub(self, text: str) -> str:
        """Remove the token from text we pass on, whatever the server or a library echoed."""
        return text.replace(self._token, "[redacted]") if self._token else text
