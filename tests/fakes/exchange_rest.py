"""A loopback Exchange Online REST endpoint: InvokeCommand and $batch over real HTTPS.

Speaks what the V3 module and CIPP-API send (docs/exchange-rest.md): ``POST
/adminapi/beta/{tenant}/InvokeCommand`` with ``{"CmdletInput": {"CmdletName", "Parameters"}}``
and ``POST /adminapi/beta/{tenant}/$batch`` with at most 10 sub-requests, bearer tokens it
issued itself, ``$select``, paging by ``@odata.nextLink``, error bodies with
``error.details[].message`` = ``ExNNNNNN|Type|text``. The tenant is ``FakeExchangeOrg`` (the
WinRM fake's model: three-state flag, not-found and ambiguous identities, sticky mailboxes).

Knobs for tests: ``stale_reads`` (a change shows only after that many reads; for a share
``stale_chance`` of the changes, seeded, so only some do), 429s with
``Retry-After`` for whole requests or single sub-requests, latency per InvokeCommand and per
$batch, a missing Exchange role (403). Anything that is not the documented JSON shape (a
string where a boolean goes, an unknown cmdlet or parameter, PowerShell-looking text, a header
missing) is recorded in ``violations``, which tests assert empty.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from providers.errors import AuthError
from tests.fakes.exchange_emulator import FakeExchangeOrg, FakeMailbox, PSError
from tests.fakes.loopback import LoopbackFake, LoopbackServer

__all__ = ["FakeExchangeRest", "FakeExoTokens"]

_PARAMS = {
    "Get-TransportConfig": {},
    "Set-TransportConfig": {"SmtpClientAuthenticationDisabled": (bool,)},
    "Get-CASMailbox": {"Identity": (str,), "ResultSize": (str, int)},
    "Set-CASMailbox": {"Identity": (str,), "SmtpClientAuthenticationDisabled": (bool, type(None))},
}
_POWERSHELL = re.compile(r"[$`;|]|^\s*-|\r|\n")
_DEFAULT_SET = ("Identity", "Name", "Guid", "PrimarySmtpAddress", "ImapEnabled", "PopEnabled")


@dataclass
class Served:
    """One HTTP request the fake answered."""

    path: str
    cmdlets: list[str]
    status: int
    at: float


@dataclass
class _Stale:
    value: bool | None
    reads_left: int


@dataclass
class _Faults:
    throttle: deque[tuple[int, str]] = field(default_factory=deque)  # (status, Retry-After)
    throttle_items: deque[tuple[int, str]] = field(default_factory=deque)


class FakeExchangeRest(LoopbackFake):
    """The REST side of one tenant, behind a ThreadingHTTPServer on localhost (TLS)."""

    def __init__(
        self,
        org: FakeExchangeOrg,
        *,
        tls: ssl.SSLContext,
        tenant_id: str = "8f3c0a4e-5d6b-4c2a-9e1f-0123456789ab",
        invoke_latency_s: float = 0.0,
        batch_latency_s: float = 0.0,
        page_size: int = 1000,
        stale_reads: int = 0,
        stale_chance: float = 1.0,
        seed: int = 16,
    ) -> None:
        self.org, self.tenant_id, self._tls = org, tenant_id, tls
        self.invoke_latency_s, self.batch_latency_s = invoke_latency_s, batch_latency_s
        self.page_size, self.stale_reads = page_size, stale_reads
        self.stale_chance = stale_chance  # share of changes that lag (some runs, not all)
        self.roles_missing = False
        self.echo_token = False  # a misbehaving server: its 403 text quotes the request's token
        self.set_refusals: dict[str, PSError] = {}  # mailbox GUID -> what Set-CASMailbox raises
        self.served: list[Served] = []
        self.violations: list[str] = []
        self.max_in_flight = 0
        self._tokens: set[str] = set()
        self._stale: dict[str, _Stale] = {}  # mailbox GUID or "org" -> value still shown
        self._faults = _Faults()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._server: LoopbackServer | None = None
        self.url = ""

    # -- lifecycle and knobs ----------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def issue_token(self) -> str:
        """An opaque access token this fake will accept (what the login endpoint would give)."""
        token = "eyJ0eXAi.fake-exo." + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        return token

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def throttle_next(self, count: int = 1, *, retry_after: str = "1", status: int = 429) -> None:
        """The next ``count`` HTTP requests are refused with ``status`` and ``Retry-After``."""
        self._faults.throttle.extend([(status, retry_after)] * count)

    def throttle_items_next(self, count: int = 1, *, retry_after: str = "1") -> None:
        """The next ``count`` sub-requests inside $batch answer 429 (the others run)."""
        self._faults.throttle_items.extend([(429, retry_after)] * count)

    def cmdlets_called(self, name: str) -> int:
        with self._lock:
            return sum(s.cmdlets.count(name) for s in self.served)

    # -- HTTP (server threads) ----------------------------------------------------------------

    def handle(self, path: str, query: str, headers: dict[str, str], raw: bytes) -> _Reply:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        cmdlets: list[str] = []
        try:
            reply = self._route(path, query, headers, raw, cmdlets)
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self.served.append(Served(path, cmdlets, reply.status, time.monotonic()))
        return reply

    def _route(
        self, path: str, query: str, headers: dict[str, str], raw: bytes, cmdlets: list[str]
    ) -> _Reply:
        prefix = f"/adminapi/beta/{self.tenant_id}/"
        if not path.startswith("/adminapi/beta/"):
            return _Reply.error(404, "NotFound", "Resource not found.")
        if not path.startswith(prefix):
            return _Reply.error(404, "TenantNotFound", "The tenant was not found.")
        if not self._authorised(headers.get("authorization", "")):
            return _Reply.error(401, "Unauthorized", "The access token is missing or invalid.")
        if self.roles_missing:
            echo = f" (request: {headers.get('authorization')})" if self.echo_token else ""
            return _Reply.error(403, "Forbidden", "The app has no role for this cmdlet." + echo)
        if self._faults.throttle:
            status, after = self._faults.throttle.popleft()
            return _Reply.error(status, "TooManyRequests", "Too many requests.", retry_after=after)
        if "application/json" not in headers.get("content-type", ""):
            self._violation(f"content-type {headers.get('content-type')!r}")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._violation("body is not JSON")
            return _Reply.error(400, "BadRequest", "The body is not JSON.")
        endpoint = path[len(prefix) :]
        if endpoint == "InvokeCommand":
            time.sleep(self.invoke_latency_s)
            cmdlets.append(str(_cmdlet_name(body)))
            status, reply_headers, out = self._invoke(body, headers, parse_qs(query))
            return _Reply(status, out, reply_headers)
        if endpoint == "$batch":
            time.sleep(self.batch_latency_s)
            return self._batch(body, headers, cmdlets)
        return _Reply.error(404, "NotFound", f"No endpoint {endpoint!r}.")

    def _authorised(self, value: str) -> bool:
        scheme, _, token = value.partition(" ")
        with self._lock:
            return scheme == "Bearer" and token in self._tokens

    def _batch(self, body: Any, headers: dict[str, str], cmdlets: list[str]) -> _Reply:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not 0 < len(requests) <= 10:
            self._violation("a $batch must hold 1 to 10 requests")
            return _Reply.error(400, "BadRequest", "A batch holds 1 to 10 requests.")
        go_on = "odata.continue-on-error" in headers.get("prefer", "")
        if not go_on:
            self._violation("$batch without Prefer: odata.continue-on-error")
        responses = []
        for sub in requests:
            answer = self._sub(sub, cmdlets)
            responses.append(answer)
            if answer["status"] >= 400 and not go_on:
                break  # OData: without continue-on-error the service stops at the first error
        self._random.shuffle(responses)  # answers carry their id; their order means nothing
        return _Reply(200, {"responses": responses})

    def _sub(self, sub: Any, cmdlets: list[str]) -> dict[str, Any]:
        if not isinstance(sub, dict) or not sub.get("id") or sub.get("method") != "POST":
            self._violation(f"malformed sub-request {str(sub)[:80]}")
            return {"id": str(sub.get("id") if isinstance(sub, dict) else ""), "status": 400}
        url = urlsplit(str(sub.get("url", "")))
        if url.path != f"/adminapi/beta/{self.tenant_id}/InvokeCommand":
            self._violation(f"sub-request to {url.path!r}")
        headers = {str(k).lower(): str(v) for k, v in (sub.get("headers") or {}).items()}
        if "authorization" in headers and not self._authorised(headers["authorization"]):
            return {"id": sub["id"], "status": 401, "body": _error_body("Unauthorized", "bad")}
        cmdlets.append(str(_cmdlet_name(sub.get("body"))))
        if self._faults.throttle_items:
            status, after = self._faults.throttle_items.popleft()
            return {
                "id": sub["id"],
                "status": status,
                "headers": {"Retry-After": after},
                "body": _error_body("TooManyRequests", "Too many requests."),
            }
        status, reply_headers, out = self._invoke(sub.get("body"), headers, parse_qs(url.query))
        return {"id": sub["id"], "status": status, "headers": reply_headers, "body": out}

    # -- cmdlets ---------------------------------------------------------------------------------

    def _invoke(
        self, body: Any, headers: dict[str, str], query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        name, params = self._check_wire(body, headers)
        if name is None:
            return 400, {}, _error_body("BadRequest", "Malformed CmdletInput.")
        select = [p for s in query.get("$select", []) for p in s.split(",") if p]
        skip = int((query.get("$skiptoken") or ["0"])[0])
        try:
            with self.org.lock:
                records, warnings = self._run(name, params)
        except PSError as exc:
            code = 404 if "NotFound" in exc.record["reason"] else 400
            return code, {}, _ps_error_body(exc.record)
        shaped = [self._shape(r, select) for r in records]
        page = shaped[skip : skip + self.page_size]
        out: dict[str, Any] = {"@odata.context": f"{self.url}/adminapi/beta/$metadata"}
        out["value"] = page
        if warnings:
            out["@adminapi.warnings"] = warnings
        if skip + self.page_size < len(shaped):
            link = f"{self.url}/adminapi/beta/{self.tenant_id}/InvokeCommand?"
            out["@odata.nextLink"] = (
                link
                + (f"$select={','.join(select)}&" if select else "")
                + f"$skiptoken={skip + self.page_size}"
            )
        return 200, {"Content-Type": "application/json"}, out

    def _run(self, name: str, p: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        org = self.org
        if name == "Get-TransportConfig":
            org.calls.get_transport += 1
            shown = self._shown("org", org.org_disabled)
            return [
                {"Identity": "Transport Settings", "SmtpClientAuthenticationDisabled": shown}
            ], []
        if name == "Set-TransportConfig":
            org.calls.set_transport += 1
            self._remember("org", org.org_disabled)
            org.org_disabled = bool(p["SmtpClientAuthenticationDisabled"])
            return [], []
        if name == "Get-CASMailbox":
            boxes = org.get_cas(str(p.get("Identity", "")))
            return [self._record(b) for b in boxes], []
        identity = str(p["Identity"])
        (box,) = org.get_cas(identity)
        org.calls.get_cas -= 1  # the lookup is part of Set-CASMailbox
        value = p["SmtpClientAuthenticationDisabled"]
        if box.guid in self.set_refusals:
            raise self.set_refusals[box.guid]
        if box.smtp_auth_disabled is value:
            org.calls.set_cas += 1
            return [], [f"The command completed successfully but no settings of '{box.upn}' "
                        "have been modified."]  # fmt: skip
        self._remember(box.guid, box.smtp_auth_disabled)
        org.set_cas(identity, value)
        return [], []

    def _record(self, box: FakeMailbox) -> dict[str, Any]:
        return {
            "Identity": box.upn.split("@")[0],
            "Name": box.upn.split("@")[0],
            "Guid": box.guid,
            "PrimarySmtpAddress": box.primary_smtp,
            "ExternalDirectoryObjectId": box.guid[::-1],
            "ImapEnabled": True,
            "PopEnabled": True,
            "SmtpClientAuthenticationDisabled": self._shown(box.guid, box.smtp_auth_disabled),
        }

    @staticmethod
    def _shape(record: dict[str, Any], select: list[str]) -> dict[str, Any]:
        """``$select`` picks properties; without it a partial set WITHOUT the SMTP flag (as
        the REST module's default serialisation leaves properties out)."""
        keys = select or [k for k in _DEFAULT_SET if k in record]
        return {k: record[k] for k in keys if k in record}

    def _remember(self, key: str, old: bool | None) -> None:
        if self.stale_reads > 0 and self._random.random() < self.stale_chance:
            self._stale[key] = _Stale(old, self.stale_reads)

    def _shown(self, key: str, value: bool | None) -> bool | None:
        stale = self._stale.get(key)
        if stale is None:
            return value
        stale.reads_left -= 1
        if stale.reads_left <= 0:
            del self._stale[key]
        return stale.value

    def _check_wire(self, body: Any, headers: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
        """The request must be the documented JSON shape, with values as JSON, no script."""
        if not isinstance(body, dict) or set(body) != {"CmdletInput"}:
            self._violation(f"body keys {sorted(body) if isinstance(body, dict) else body!r}")
            return None, {}
        inner = body["CmdletInput"]
        if not isinstance(inner, dict) or set(inner) != {"CmdletName", "Parameters"}:
            self._violation("CmdletInput must hold exactly CmdletName and Parameters")
            return None, {}
        name, params = inner["CmdletName"], inner["Parameters"]
        allowed = _PARAMS.get(name) if isinstance(name, str) else None
        if allowed is None or not isinstance(params, dict):
            self._violation(f"cmdlet {name!r}")
            return None, {}
        if headers.get("x-cmdletname") != name:
            self._violation(f"X-CmdletName {headers.get('x-cmdletname')!r} for {name}")
        if not headers.get("x-anchormailbox", "").startswith("APP:SystemMailbox{"):
            self._violation("X-AnchorMailbox missing")
        for key, value in params.items():
            types = allowed.get(key)
            if types is None or not isinstance(value, types):
                self._violation(f"{name} -{key} {value!r}")
                return None, {}
            if isinstance(value, str) and _POWERSHELL.search(value):
                self._violation(f"PowerShell-looking value {value!r}")
                return None, {}
        return name, params

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)


class FakeExoTokens:
    """An AccessTokens for tests: tokens from the fake, cached, scope checked."""

    def __init__(self, fake: FakeExchangeRest) -> None:
        self.fake = fake
        self.calls = 0
        self._token: str | None = None
        self.fail: AuthError | None = None

    def bearer(self, scope: str) -> str:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if scope != f"{self.fake.url}/.default":
            raise AuthError(f"no token for scope {scope}")
        if self._token is None:
            self._token = self.fake.issue_token()
        return self._token


def _cmdlet_name(body: Any) -> object:
    inner = body.get("CmdletInput") if isinstance(body, dict) else None
    return inner.get("CmdletName") if isinstance(inner, dict) else None


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _ps_error_body(record: dict[str, str]) -> dict[str, Any]:
    """An Exchange cmdlet error as the REST endpoint renders it."""
    text = record["message"].split("|")[-1]
    return {
        "error": {
            "code": "InternalServerError" if "|" not in record["message"] else "BadRequest",
            "message": text,
            "details": [{"code": "", "target": "", "message": record["message"]}],
            "innererror": {
                "message": text,
                "type": record["type"],
                "internalException": {"message": text},
            },
        }
    }


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, status: int, code: str, message: str, *, retry_after: str = "") -> _Reply:
        headers = {"Retry-After": retry_after} if retry_after else {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return cls(status, _error_body(code, message), headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: LoopbackServer

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.fake.handle(url.path, url.query, headers, raw)
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in reply.headers.items():
            if key.lower() != "content-type":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""
