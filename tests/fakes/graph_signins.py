"""A loopback Microsoft Graph that serves ``/v1.0/auditLogs/signIns`` over HTTPS (trustme).

As the Graph docs describe it (docs/configuration.md lists the sources): a bearer token in
``Authorization``; ``$filter`` and ``$top`` (at most 1,000); newest first; paging through
``@odata.nextLink`` with an opaque ``$skiptoken`` (the link repeats ``$filter`` and ``$top``);
403 ``Authorization_RequestDenied`` without ``AuditLog.Read.All``, 403
``Authentication_RequestFromNonPremiumTenantOrB2CTenant`` without an Entra ID P1/P2 licence;
429 with ``Retry-After`` when throttling. The filter must be exactly what the bot builds
(``clientAppUsed eq 'Authenticated SMTP' and createdDateTime ge <UTC> and status/errorCode eq
0``): anything else is a 400, so a test sees a changed filter at once.

``/token`` issues JWT-shaped tokens (unsigned: this fake is their only reader) whose ``roles``
claim lists the app's permissions, for tests that need no login fake; ``accept`` lets a test
admit tokens issued elsewhere (msal against the login fake).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import trustme

from tests.fakes.loopback import LoopbackFake, LoopbackServer
from tests.fakes.whm import server_tls

__all__ = ["FakeGraph", "SignInRecord"]

_FILTER = re.compile(
    r"^clientAppUsed eq 'Authenticated SMTP' and createdDateTime ge "
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) and status/errorCode eq 0$"
)
_PATH = "/v1.0/auditLogs/signIns"


@dataclass(frozen=True)
class SignInRecord:
    """One sign-in in the log (what Graph's signIn resource carries that matters here)."""

    user_principal_name: str
    created: datetime
    ip_address: str
    client_app: str = "Authenticated SMTP"
    error_code: int = 0
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_json(self) -> dict[str, Any]:
        ok = self.error_code == 0
        return {
            "id": self.id,
            "createdDateTime": self.created.strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z",  # 7 digits
            "userDisplayName": self.user_principal_name.split("@")[0].title(),
            "userPrincipalName": self.user_principal_name,
            "userId": self.user_id,
            "appId": "00000002-0000-0ff1-ce00-000000000000",
            "appDisplayName": "Office 365 Exchange Online",
            "ipAddress": self.ip_address,
            "clientAppUsed": self.client_app,
            "correlationId": str(uuid.uuid4()),
            "conditionalAccessStatus": "notApplied",
            "isInteractive": True,
            "riskDetail": "none",
            "riskLevelAggregated": "none",
            "riskLevelDuringSignIn": "none",
            "riskState": "none",
            "riskEventTypes": [],
            "resourceDisplayName": "Office 365 Exchange Online",
            "resourceId": "00000002-0000-0ff1-ce00-000000000000",
            "status": {
                "errorCode": self.error_code,
                "failureReason": None if ok else "Invalid username or password.",
                "additionalDetails": None,
            },
            "deviceDetail": {"deviceId": "", "operatingSystem": "", "browser": ""},
            "location": {"city": "Zurich", "state": "Zurich", "countryOrRegion": "CH"},
            "appliedConditionalAccessPolicies": [],
        }


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _graph_error(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": datetime.now(UTC).isoformat(), "request-id": str(uuid.uuid4())},
        }
    }


@dataclass
class Request:
    """One signIns request the fake received."""

    params: dict[str, str]
    bearer: str
    status: int


class FakeGraph(LoopbackFake):
    https_host = "127.0.0.1"  # its certificate (server_tls) names the address
    """Graph's sign-in log behind a real HTTPS server on 127.0.0.1:0."""

    def __init__(self, ca: trustme.CA | None = None, *, roles: tuple[str, ...] = ()) -> None:
        self.ca = ca or trustme.CA()
        self.roles = list(roles or ("AuditLog.Read.All", "Directory.Read.All"))
        self.records: list[SignInRecord] = []
        self.requests: list[Request] = []
        self.deny_audit = False  # 403 Authorization_RequestDenied (permission not consented)
        self.no_premium = False  # 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant
        self.throttle = 0  # the next N signIns requests get 429 with Retry-After
        self.retry_after = "1"
        self.accept: Callable[[str], bool] = lambda token: False  # tokens issued elsewhere
        self._tokens: set[str] = set()
        self._pages: dict[str, tuple[str, int, int]] = {}  # skiptoken -> (filter, top, offset)
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self.url = ""

    # -- test-facing --------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def _tls_context(self) -> ssl.SSLContext:
        return server_tls(self.ca)

    def ca_file(self, path: str) -> str:
        """Write the CA bundle that trusts this server to ``path``; returns it."""
        self.ca.cert_pem.write_to_path(path)
        return path

    def add(self, upn: str, created: datetime, ip: str, **kw: Any) -> SignInRecord:
        record = SignInRecord(upn, created, ip, **kw)
        with self._lock:
            self.records.append(record)
        return record

    def issue_token(self, scope: str = "") -> str:
        """A token whose ``roles`` are this fake's ``roles`` at the time of issue."""
        claims = {"aud": self.url, "scp_requested": scope, "roles": list(self.roles)}
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_hex(8)}"
        with self._lock:
            self._tokens.add(token)
        return token

    def sign_in_requests(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    # -- request handling (server threads) ------------------------------------------------

    def handle(self, path: str, params: dict[str, str], auth: str) -> tuple[int, dict, dict]:
        if path == "/token":
            return 200, {"access_token": self.issue_token(params.get("scope", ""))}, {}
        if path != _PATH:
            return 404, _graph_error("ResourceNotFound", f"Resource not found for {path}"), {}
        bearer = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        status, body, headers = self._sign_ins(params, bearer)
        with self._lock:
            self.requests.append(Request(dict(params), bearer, status))
        return status, body, headers

    def _sign_ins(self, params: dict[str, str], bearer: str) -> tuple[int, dict, dict]:
        with self._lock:
            known = bearer in self._tokens
        if not bearer or not (known or self.accept(bearer)):
            return 401, _graph_error("InvalidAuthenticationToken", "Access token is empty."), {}
        with self._lock:
            if self.throttle > 0:
                self.throttle -= 1
                body = _graph_error("TooManyRequests", "Too many requests")
                return 429, body, {"Retry-After": self.retry_after}
        if self.deny_audit:
            return (
                403,
                _graph_error(
                    "Authorization_RequestDenied",
                    "Calling principal does not have required MSGraph permissions "
                    "AuditLog.Read.All",
                ),
                {},
            )
        if self.no_premium:
            return (
                403,
                _graph_error(
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                ),
                {},
            )
        query = params.get("$filter", "")
        match = _FILTER.match(query)
        top = params.get("$top", "1000")
        if match is None or not top.isdigit() or not 1 <= int(top) <= 1000:
            return 400, _graph_error("BadRequest", "Invalid filter clause"), {}
        offset = 0
        if "$skiptoken" in params:
            with self._lock:
                page = self._pages.get(params["$skiptoken"])
            if page is None or page[:2] != (query, int(top)):
                return 400, _graph_error("BadRequest", "Invalid $skiptoken"), {}
            offset = page[2]
        since = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        with self._lock:
            matching = sorted(
                (
                    r
                    for r in self.records
                    if r.client_app == "Authenticated SMTP"
                    and r.error_code == 0
                    and r.created >= since
                ),
                key=lambda r: r.created,
                reverse=True,
            )
        size = int(top)
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#auditLogs/signIns",
            "value": [r.to_json() for r in matching[offset : offset + size]],
        }
        if offset + size < len(matching):
            token = secrets.token_hex(16)
            with self._lock:
                self._pages[token] = (query, size, offset + size)
            next_query = urlencode({"$filter": query, "$top": top, "$skiptoken": token})
            body["@odata.nextLink"] = f"{self.url}/v1.0/auditLogs/signins?{next_query}"
        return 200, body, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        # paths are matched without case, as Graph does ("signIns" and "signins")
        path = _PATH if url.path.lower() == _PATH.lower() else url.path
        self._reply(*self.server.fake.handle(path, params, self.headers.get("Authorization", "")))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        self._reply(*self.server.fake.handle(url.path, form, ""))

    def _reply(self, status: int, body: dict, headers: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""
