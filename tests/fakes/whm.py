"""A loopback WHM API 1 server for tests: real HTTP(S), documented envelopes and failures.

Follows /work/shared/reference/whm.md: ``/json-api/<function>`` over GET or POST, the
``Authorization: whm USER:TOKEN`` header (bad → HTTP 403 with the ``cpanelresult`` body),
``api.version=1`` (without it, the API 0 shape), ``metadata.result`` 0 with the server's
reason, and ``uapi_cpanel`` replies whose failure sits in ``data.uapi.status``.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import ssl
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trustme

from tests.fakes.loopback import LoopbackFake, LoopbackServer
from tests.fakes.whm_accounts import LOGIN_UAPI, AccountsFailure, FakeAccountLimits
from tests.fakes.whm_listaccts import ListacctsFailure, listaccts
from tests.fakes.whm_queue import QUEUE_FUNCTIONS, QUEUE_UAPI, FakeQueue, QueueFailure, Started
from tests.fakes.whm_tracking import TRACKING_FUNCTIONS, FakeTracking, TrackingFailure
from tests.fakes.whm_tweaks import FakeTweaks, TweakFailure

__all__ = ["ACCESS_DENIED", "DEFAULT_TOKEN", "Call", "FAIL_KINDS", "FakeWhm", "server_tls"]

DEFAULT_TOKEN = "S3CRET-whm-T0KEN-9f8e7d6c5b4a"  # distinctive, so leaks are easy to grep

FAIL_KINDS = frozenset(
    {"http500", "http503", "timeout", "not_json", "no_metadata", "result0", "uapi_status0"}
    | {"auth403", "drop_change", "trickle"}
)
ACCESS_DENIED = {
    "cpanelresult": {
        "apiversion": "2",
        "error": "Access denied",
        "data": {"reason": "Access denied", "result": "0"},
        "type": "text",
    }
}
SIMULATED_REASON = "API failure: (XID fake01) Simulated failure for “{}”."
_CHANGES = {
    "suspend_outgoing_email": ("outgoing_mail_suspended", 1),
    "unsuspend_outgoing_email": ("outgoing_mail_suspended", 0),
    "hold_outgoing_email": ("outgoing_mail_hold", 1),
    "release_outgoing_email": ("outgoing_mail_hold", 0),
}
_UAPI_CHANGES = {
    "suspend_outgoing": ("suspended_outgoing", 1),
    "unsuspend_outgoing": ("suspended_outgoing", 0),
    "hold_outgoing": ("hold_outgoing", 1),
    "release_outgoing": ("hold_outgoing", 0),
} | LOGIN_UAPI
_NO_APPLY = ("drop_change", "uapi_status0")  # faults that leave the state unchanged
_MAILBOX_FLAGS = ("suspended_login", "suspended_incoming", "suspended_outgoing", "hold_outgoing")


def server_tls(ca: trustme.CA, *hosts: str) -> ssl.SSLContext:
    """A server-side SSL context with a certificate from ``ca`` for localhost/127.0.0.1."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(hosts or ("localhost", "127.0.0.1"))).configure_cert(ctx)
    return ctx


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    function: str
    params: dict[str, str]
    method: str
    auth_ok: bool


@dataclass
class _Account:
    user: str
    domains: list[str]
    owner: str = "root"
    outgoing_mail_suspended: int = 0
    outgoing_mail_hold: int = 0


class _Failure(Exception):
    """A function failure: ``metadata.result`` 0 with ``reason``."""


def _meta(function: str, result: int = 1, reason: str = "OK") -> dict[str, Any]:
    return {"command": function, "result": result, "reason": reason, "version": 1}


def _xid_failure(text: str) -> _Failure:
    return _Failure(f"API failure: (XID {secrets.token_hex(3)}) {text}")


class FakeWhm(LoopbackFake):
    """A thread-safe in-memory WHM behind a real ThreadingHTTPServer on 127.0.0.1:0."""

    def __init__(
        self,
        *,
        username: str = "root",
        token: str = DEFAULT_TOKEN,
        tls: ssl.SSLContext | None = None,
        latency_s: float = 0.0,
        hang_s: float = 2.0,
        trickle_s: float = 0.5,
        privileges: dict[str, int] | None = None,
    ) -> None:
        self.username, self.token, self.latency_s, self.hang_s = username, token, latency_s, hang_s
        self.trickle_s = trickle_s  # "trickle": the whole reply, one byte every trickle_s
        self.privileges = dict(privileges or {"all": 1})
        self.tweaks = FakeTweaks()  # get/set_tweaksetting (smtpmailgidonly ships as 1)
        self.limits = FakeAccountLimits()  # modifyacct MAX_EMAIL_PER_HOUR, plan, login params
        self.calls: list[Call] = []
        self.max_in_flight = 0
        self._tls = tls
        self._lock = threading.RLock()
        self._in_flight = 0
        self._accounts: dict[str, _Account] = {}
        self._domain_owner: dict[str, str] = {}
        self._mailboxes: dict[str, dict[str, int]] = {}
        self._faults: dict[str, deque[str]] = defaultdict(deque)
        self.queue = FakeQueue(self._lock)  # Exim's queue: tests/fakes/whm_queue.py
        self.tracking = FakeTracking()  # emailtrack_*: tests/fakes/whm_tracking.py
        self.tracking_refusal = "http403"  # or "result0": how a token without track-email is told
        self._server: LoopbackServer | None = None
        self.url = ""

    @property
    def smtp_restriction(self) -> int | None:
        """SMTP Restrictions (``smtpmailgidonly``): 1, 0 or None (unset)."""
        value = self.tweaks.values.get("smtpmailgidonly")
        return None if value is None else int(value)

    @smtp_restriction.setter
    def smtp_restriction(self, value: int | None) -> None:
        self.tweaks.values["smtpmailgidonly"] = value

    # -- lifecycle -------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    # -- state set-up and inspection ------------------------------------------------------

    def add_account(self, user: str, domain: str, *, extra_domains: tuple[str, ...] = ()) -> None:
        with self._lock:
            domains = [d.lower() for d in (domain, *extra_domains)]
            self._accounts[user] = _Account(user, domains)
            self._domain_owner.update(dict.fromkeys(domains, user))

    def add_mailbox(self, address: str, **flags: int) -> None:
        """Add ``address``; ``flags`` may preset suspended_outgoing, hold_outgoing, …."""
        local, domain = address.rsplit("@", 1)
        with self._lock:
            if domain.lower() not in self._domain_owner:
                raise ValueError(f"no account owns {domain}")
            state = dict.fromkeys(_MAILBOX_FLAGS, 0)
            state.update(flags)
            self._mailboxes[f"{local}@{domain.lower()}"] = state

    def mailbox_state(self, address: str) -> dict[str, int]:
        with self._lock:
            return dict(self._mailboxes[address])

    def account_state(self, user: str) -> dict[str, int]:
        with self._lock:
            acct = self._accounts[user]
            return {
                "outgoing_mail_suspended": acct.outgoing_mail_suspended,
                "outgoing_mail_hold": acct.outgoing_mail_hold,
            }

    def set_account_state(self, user: str, **flags: int) -> None:
        with self._lock:
            for name, value in flags.items():
                setattr(self._accounts[user], name, value)

    def fail_next(self, function: str, kind: str, count: int = 1) -> None:
        """Make the next ``count`` calls of ``function`` fail as ``kind``.

        ``function`` is a WHM function name, or ``Email::NAME`` for one UAPI function only.
        """
        if kind not in FAIL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._faults[function].extend([kind] * count)

    def calls_to(self, function: str) -> list[Call]:
        """Recorded calls of a WHM function, or of ``Email::NAME`` through uapi_cpanel."""
        with self._lock:
            return [c for c in self.calls if function in (c.function, _uapi_key(c.params))]

    # -- request handling (called from server threads) ------------------------------------

    def handle(self, method: str, path: str, params: dict[str, str], auth: str) -> _Reply:
        function = path.removeprefix("/json-api/") if path.startswith("/json-api/") else ""
        auth_ok = auth == f"whm {self.username}:{self.token}"
        with self._lock:
            self.calls.append(Call(function, dict(params), method, auth_ok))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            return self._reply(function, params, auth_ok)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _reply(self, function: str, params: dict[str, str], auth_ok: bool) -> _Reply:
        if not auth_ok:
            return _Reply.json(ACCESS_DENIED, status=403)
        if not function:
            return _Reply(404, "text/plain", b"Not Found")
        fault = self._take_fault(function, params)
        if fault in ("http500", "http503"):
            return _Reply(int(fault[4:]), "text/html", b"<html>Internal Server Error</html>")
        if fault == "timeout":
            time.sleep(self.hang_s)
            return _Reply(0, "", b"")  # the connection is dropped without an answer
        if fault == "trickle":
            body = {"metadata": _meta(function), "data": {"note": "slow"}}
            return dataclasses.replace(_Reply.json(body), trickle_s=self.trickle_s)
        if fault == "auth403":
            return _Reply.json(ACCESS_DENIED, status=403)
        if fault == "not_json":
            return _Reply(200, "text/html", b"<html><body>cPanel Login</body></html>")
        if fault == "no_metadata":
            return _Reply.json({"data": {"note": "no envelope"}})
        if fault == "result0":
            return _Reply.json({"metadata": _meta(function, 0, SIMULATED_REASON.format(function))})
        if params.get("api.version") != "1":
            return _Reply.json({"status": 0, "statusmsg": "WHM API 0 is not served by this fake"})
        if function in TRACKING_FUNCTIONS and not self._may_track():
            if self.tracking_refusal == "http403":
                return _Reply.json(ACCESS_DENIED, status=403)
            return _Reply.json({"metadata": _meta(function, 0, "Permission Denied")})
        try:
            with self._lock:
                data = self._dispatch(function, params, apply=fault not in _NO_APPLY)
        except (_Failure, QueueFailure, AccountsFailure, TrackingFailure) as exc:
            return _Reply.json({"metadata": _meta(function, 0, str(exc))})
        if fault == "uapi_status0" and isinstance(data, dict) and "uapi" in data:
            who = params.get("email", params.get("cpanel.function", ""))
            data["uapi"] = _uapi(None, f"Simulated UAPI failure for “{who}”.")
        reason = data.reason if isinstance(data, Started) else "OK"
        data = data.data if isinstance(data, Started) else data
        body: dict[str, Any] = {"metadata": _meta(function, reason=reason)}
        if data is not None:
            body["data"] = data
        return _Reply.json(body)

    def _may_track(self) -> bool:
        """Email tracking needs the "track-email" ACL (WHM's "Track Email"), or "all"."""
        return bool(self.privileges.get("all") or self.privileges.get("track-email"))

    def _take_fault(self, function: str, params: dict[str, str]) -> str | None:
        with self._lock:
            for key in (_uapi_key(params) if function == "uapi_cpanel" else None, function):
                if key and self._faults.get(key):
                    return self._faults[key].popleft()
        return None

    def _dispatch(self, function: str, p: dict[str, str], *, apply: bool) -> Any:
        if function == "getdomainowner":
            return {"user": self._domain_owner.get(p.get("domain", "").lower())}
        if function == "accountsummary":
            return {"acct": [self._summary(self._find_account(p))]}
        if function == "listaccts":  # tests/fakes/whm_listaccts.py
            try:
                return listaccts(self._accounts.values(), self._summary, p)
            except ListacctsFailure as exc:
                raise _Failure(str(exc)) from None
        if self.tweaks.handles(function):
            try:
                return self.tweaks.dispatch(function, p, apply=apply)
            except TweakFailure as exc:
                raise _Failure(str(exc)) from None
        if function == "modifyacct":
            acct = self._accounts.get(p.get("user", ""))
            domain = acct.domains[0] if acct else ""
            return self.limits.modify(p, exists=acct is not None, domain=domain, apply=apply)
        if function in _CHANGES:
            acct = self._accounts.get(p.get("user", ""))
            if acct is None:
                raise _xid_failure(f"You do not have a user named “{p.get('user', '')}”.")
            name, value = _CHANGES[function]
            if apply:
                setattr(acct, name, value)
            return None
        if function == "uapi_cpanel":
            return {"uapi": self._uapi_call(p, apply=apply)}
        if function in QUEUE_FUNCTIONS:
            return self.queue.dispatch(function, p)
        if function in TRACKING_FUNCTIONS:
            return self.tracking.dispatch(function, p)
        if function == "myprivs":
            return {"privileges": [dict(self.privileges)]}
        raise _Failure(f"Unknown app ({function}) requested for this version (1) of the API.")

    def _find_account(self, p: dict[str, str]) -> _Account:
        if not p.get("user") and not p.get("domain"):
            raise _Failure("API failure: You must specify a user or domain to get a summary of.")
        for acct in self._accounts.values():
            if acct.user == p.get("user") or acct.domains[0] == p.get("domain", "").lower():
                return acct
        raise _Failure("Account does not exist.")

    def _summary(self, acct: _Account) -> dict[str, Any]:
        return {
            "user": acct.user,
            "domain": acct.domains[0],
            "owner": acct.owner,
            "email": f"admin@{acct.domains[0]}",
            "suspended": 0,
            "outgoing_mail_suspended": acct.outgoing_mail_suspended,
            "outgoing_mail_hold": acct.outgoing_mail_hold,
        } | self.limits.fields(acct.user)

    def _uapi_call(self, p: dict[str, str], *, apply: bool) -> dict[str, Any]:
        user, module, func = (p.get(f"cpanel.{k}", "") for k in ("user", "module", "function"))
        if user not in self._accounts:
            raise _xid_failure(f"You do not have a user named “{user}”.")
        if module != "Email":
            return _uapi(None, f"Failed to load module “{module}”.")
        if func == "list_pops_with_disk":
            return _uapi(self._list_pops(user, p))
        if func not in _UAPI_CHANGES and func not in QUEUE_UAPI:
            return _uapi(None, f"The “Email” module has no function “{func}”.")
        address = p.get("email", "")
        if address.count("@") != 1:
            return _uapi(None, "Please use a valid email format.")
        local, domain = address.split("@")
        key = f"{local}@{domain.lower()}"
        box = self._mailboxes.get(key)
        if box is None or self._domain_owner.get(domain.lower()) != user:
            return _uapi(None, f"You do not have an email account named “{address}”.")
        if func in QUEUE_UAPI:
            return _uapi(self.queue.delete_held(key))
        if func in LOGIN_UAPI:
            self.limits.note_login_params(p)
        name, value = _UAPI_CHANGES[func]
        changed = box[name] != value
        if apply:
            box[name] = value
        return _uapi(1 if changed else None)

    def _list_pops(self, user: str, p: dict[str, str]) -> list[dict[str, Any]]:
        items = []
        for address, box in sorted(self._mailboxes.items()):
            local, domain = address.split("@")
            if self._domain_owner.get(domain) != user:
                continue
            if p.get("domain") and p["domain"].lower() != domain:
                continue
            if p.get("email") and p["email"] != local:
                continue
            item: dict[str, Any] = {"email": address, "login": address, "user": local}
            item |= {"domain": domain, "diskused": 0, "humandiskused": "None"}
            if p.get("get_restrictions") == "1":
                item |= box | {"has_suspended": int(any(box.values()))}
            items.append(item)
        return items


def _uapi_key(params: dict[str, str]) -> str:
    return f"{params.get('cpanel.module', '')}::{params.get('cpanel.function', '')}"


def _uapi(data: Any, error: str | None = None) -> dict[str, Any]:
    return {
        "status": 0 if error else 1,
        "errors": [error] if error else None,
        "messages": None,
        "warnings": None,
        "metadata": {},
        "data": data,
    }


@dataclass
class _Reply:
    status: int  # 0: drop the connection without an answer
    content_type: str
    body: bytes
    trickle_s: float = 0.0  # > 0: send status line, headers and body one byte at a time

    @classmethod
    def json(cls, body: object, *, status: int = 200) -> _Reply:
        return cls(status, "application/json; charset=utf-8", json.dumps(body).encode())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else small replies wait ~40 ms for a delayed ACK
    server: LoopbackServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self._serve("GET", url.path, dict(parse_qsl(url.query, keep_blank_values=True)))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode("utf-8", "replace")
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        params.update(parse_qsl(form, keep_blank_values=True))
        self._serve("POST", url.path, params)

    def _serve(self, method: str, path: str, params: dict[str, str]) -> None:
        reply = self.server.fake.handle(method, path, params, self.headers.get("Authorization", ""))
        if reply.status == 0:
            self.close_connection = True
            return
        if reply.trickle_s > 0:
            self._trickle(reply)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _trickle(self, reply: _Reply) -> None:
        """A server that is alive but slower than any per-read timeout: each byte alone."""
        head = (
            f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {reply.content_type}\r\n"
            f"Content-Length: {len(reply.body)}\r\n\r\n"
        ).encode()
        self.close_connection = True
        try:
            for byte in head + reply.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(reply.trickle_s)
        except OSError:
            return  # the client gave up: that is the point

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""
