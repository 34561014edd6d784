"""A loopback server that speaks Slack's Web API, plus the response_url webhooks.

It records every call (method, arguments, auth header) so tests can assert on exactly what
the bot sent, and it can be told to fail the next calls of a method (HTTP 429 with
Retry-After, 5xx, or an ``ok: false`` error) to exercise retries.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

__all__ = ["FakeSlack", "SlackCall"]


@dataclass
class SlackCall:
    """One request the fake received."""

    method: str  # "chat.postMessage", … or "response_url" for webhook posts
    args: dict[str, Any]
    authorized: bool
    path: str
    at: float = field(default_factory=time.monotonic)
    failed: bool = False  # the fake answered with an injected failure


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    count: int


class FakeSlack:
    """Start with ``FakeSlack(token=...).start()``; ``api_url`` goes in SLACK_API_URL."""

    def __init__(self, *, token: str = "xoxb-test-token", team_id: str = "T0TEST") -> None:
        self.token = token
        self.team_id = team_id
        self.bot_user_id = "U0BOT"
        # what Slack sends in the x-oauth-scopes header of auth.test (None: no header)
        self.scopes: str | None = "commands,chat:write,chat:write.public,usergroups:read,im:write"
        self.calls: list[SlackCall] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.permalinks = True  # False: chat.getPermalink answers ok without a permalink
        self._failures: dict[str, list[_Failure]] = {}
        self._holds: dict[str, threading.Event] = {}
        self.connections = 0  # TCP connections accepted: a client that keeps them alive opens few
        self._open: set[socket.socket] = set()
        self._ts = itertools.count(1)
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def response_url(self, name: str) -> str:
        return f"{self.base_url}/response/{name}"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with an HTTP status or an error."""
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(status, error, retry_after, count)
            )

    def hold(self, method: str) -> threading.Event:
        """Make calls of ``method`` wait (unanswered) until the returned event is set."""
        gate = threading.Event()
        with self._lock:
            self._holds[method] = gate
        return gate

    def drop_connections(self) -> None:
        """Close every open client connection, as a server does with idle kept-alive ones."""
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[FakeSlack], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate(self)`` holds; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    methods = [c.method for c in self.calls]
                    raise AssertionError(f"timed out waiting; calls so far: {methods}")
                self._lock.wait(min(remaining, 0.1))

    def wait_for_call(
        self, method: str, where: Callable[[SlackCall], bool] = lambda _c: True, timeout: float = 10
    ) -> SlackCall:
        found: list[SlackCall] = []

        def check(fake: FakeSlack) -> bool:
            found[:] = [c for c in fake.calls if c.method == method and where(c)]
            return bool(found)

        self.wait_for(check, timeout)
        return found[-1]

    # --- request handling --------------------------------------------------------------------

    def _record(self, call: SlackCall) -> None:
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            failure.count -= 1
            if failure.count <= 0:
                queue.pop(0)
            return failure

    def _dispatch(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if method == "auth.test":
                return {
                    "ok": True,
                    "url": "https://test.example/",
                    "team": "Test",
                    "user": "smtp-bot",
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "bot_id": "B0BOT",
                }
            if method == "chat.postMessage":
                channel = str(args.get("channel", ""))
                if not channel:
                    return {"ok": False, "error": "channel_not_found"}
                ts = f"{1700000000 + next(self._ts)}.000100"
                message = {"ts": ts, "text": args.get("text"), "blocks": args.get("blocks")}
                if args.get("thread_ts"):
                    message["thread_ts"] = args["thread_ts"]
                if args.get("metadata"):
                    message["metadata"] = args["metadata"]
                self.messages[(channel, ts)] = message
                return {"ok": True, "channel": channel, "ts": ts, "message": message}
            if method == "chat.update":
                key = (str(args.get("channel")), str(args.get("ts")))
                if key not in self.messages:
                    return {"ok": False, "error": "message_not_found"}
                self.messages[key].update(text=args.get("text"), blocks=args.get("blocks"))
                return {"ok": True, "channel": key[0], "ts": key[1]}
            if method == "conversations.history":
                return self._history(args)
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000200"}
            if method == "conversations.open":
                return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X"))[:10]}}
            if method == "chat.getPermalink":
                channel, ts = str(args.get("channel")), str(args.get("message_ts"))
                if (channel, ts) not in self.messages:
                    return {"ok": False, "error": "message_not_found"}
                if not self.permalinks:
                    return {"ok": True, "channel": channel}
                link = f"https://test.example/archives/{channel}/p{ts.replace('.', '')}"
                return {"ok": True, "channel": channel, "permalink": link}
            if method == "usergroups.users.list":
                group = str(args.get("usergroup"))
                if group not in self.usergroups:
                    return {"ok": False, "error": "no_such_subteam"}
                return {"ok": True, "users": list(self.usergroups[group])}
            if method in ("views.open", "views.publish", "views.update", "views.push"):
                return {"ok": True, "view": {"id": "V" + str(next(self._ts))}}
            return {"ok": False, "error": "unknown_method"}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first. Needs ``channels:history`` in
        ``scopes``, as Slack does; ``oldest`` is not applied (the fake's ts are not times)."""
        if "channels:history" not in (self.scopes or "").split(","):
            return {"ok": False, "error": "missing_scope", "needed": "channels:history"}
        channel = str(args.get("channel"))
        found = [
            dict(m, type="message")
            for (c, _ts), m in self.messages.items()
            if c == channel and not m.get("thread_ts")
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        limit = int(args.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: on a kept connection, without this the
            # body waits ~40 ms for the client's delayed ACK of the headers
            disable_nagle_algorithm = True

            def log_message(self, *_args: object) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake.connections += 1
                    fake._open.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._open.discard(self.connection)
                super().finish()

            def _send(self, status: int, body: dict[str, Any] | str, headers=None) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    args = json.loads(raw or b"{}")
                else:
                    args = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                path = self.path.split("?", 1)[0]
                if path.startswith("/response/"):
                    fake._record(SlackCall("response_url", args, True, path))
                    self._send(200, "ok")
                    return
                if not path.startswith("/api/"):
                    self._send(404, {"ok": False, "error": "not_found"})
                    return
                method = path[len("/api/") :]
                gate = fake._holds.get(method)
                if gate is not None:
                    gate.wait(timeout=30)
                auth = self.headers.get("Authorization", "")
                authorized = auth == f"Bearer {fake.token}" or args.get("token") == fake.token
                failure = fake._take_failure(method)
                fake._record(SlackCall(method, args, authorized, path, failed=failure is not None))
                if failure is not None and failure.status != 200:
                    headers = {}
                    if failure.retry_after is not None:
                        headers["Retry-After"] = str(failure.retry_after)
                    self._send(failure.status, {"ok": False, "error": "fake_failure"}, headers)
                    return
                if failure is not None and failure.error:
                    self._send(200, {"ok": False, "error": failure.error})
                    return
                if not authorized:
                    self._send(200, {"ok": False, "error": "invalid_auth"})
                    return
                scopes = fake.scopes if method == "auth.test" else None
                headers = {"x-oauth-scopes": scopes} if scopes is not None else None
                self._send(200, fake._dispatch(method, args), headers)

        return Handler
