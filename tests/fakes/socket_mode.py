"""Slack's Socket Mode side on loopback: ``apps.connections.open`` on the fake Web API hands
out the ws:// URL of a small WebSocket server that pushes envelopes and records the acks.

Envelopes follow https://docs.slack.dev/apis/events-api/using-socket-mode: a ``hello`` on
connect, then ``{"envelope_id", "type", "payload", "accepts_response_payload"}``; the app
answers each with ``{"envelope_id"[, "payload"]}``.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakes.slack_api import FakeSlack, SlackCall

__all__ = ["FakeSocketMode", "FakeSocketSlack", "block_actions", "slash_command"]

_ids = itertools.count(1)


class FakeSocketMode:
    """The WebSocket server. ``send`` pushes an envelope to the connected app;
    ``wait_for_ack`` returns the app's answer to it."""

    def __init__(self) -> None:
        self.acks: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self.connections: list[ServerConnection] = []
        self.opened = 0
        self.closed = 0
        self._cond = threading.Condition()
        self._server: Server = serve(self._serve, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket={uuid.uuid4().hex}"

    def start(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def _serve(self, conn: ServerConnection) -> None:
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0SMTPBOT"}}
        conn.send(json.dumps(hello))
        with self._cond:
            self.connections.append(conn)
            self.opened += 1
            self._cond.notify_all()
        try:
            for raw in conn:
                message = json.loads(raw)
                with self._cond:
                    self.received.append(message)
                    if "envelope_id" in message:
                        self.acks[message["envelope_id"]] = message
                    self._cond.notify_all()
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._cond:
                self.connections.remove(conn)
                self.closed += 1
                self._cond.notify_all()

    def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {self.received}")
                self._cond.wait(remaining)

    def wait_connected(self, timeout: float = 15.0) -> None:
        self._wait(lambda: bool(self.connections), timeout, "the app to connect")

    def wait_closed(self, timeout: float = 15.0) -> None:
        self._wait(lambda: not self.connections and self.closed, timeout, "the app to close")

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Push an envelope of ``kind`` (slash_commands, interactive, events_api)."""
        envelope_id = f"env-{next(_ids)}-{uuid.uuid4().hex[:6]}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._cond:
            conn = self.connections[-1]
        conn.send(json.dumps(envelope))
        return envelope_id

    def disconnect(self, reason: str | None) -> None:
        """End the app's connection as Slack does: a ``disconnect`` message (``reason``:
        refresh_requested, link_disabled) and a close; with None, the TCP connection
        just drops, as when a network path dies, with no message and no close frame."""
        with self._cond:
            conn = self.connections[-1]
        if reason is None:
            conn.socket.shutdown(socket.SHUT_RDWR)
            return
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        conn.send(json.dumps(message))
        conn.close()

    def wait_connections(self, opened: int, timeout: float = 30.0) -> None:
        """Until the app has opened ``opened`` connections in all and one of them is live."""
        self._wait(
            lambda: self.opened >= opened and bool(self.connections),
            timeout,
            f"connection number {opened}",
        )

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        self._wait(lambda: envelope_id in self.acks, timeout, f"the ack of {envelope_id}")
        return self.acks[envelope_id]


class FakeSocketSlack(FakeSlack):
    """The fake Web API plus ``apps.connections.open``, which wants the app-level token."""

    def __init__(self, *, token: str, app_token: str) -> None:
        self.app_token = app_token
        self.socket = FakeSocketMode()
        super().__init__(token=token)

    def start(self) -> FakeSocketSlack:
        self.socket.start()
        super().start()
        return self

    def stop(self) -> None:
        self.socket.stop()
        super().stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.split("?", 1)[0] != "/api/apps.connections.open":
                    super().do_POST()
                    return
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                authorized = self.headers.get("Authorization") == f"Bearer {fake.app_token}"
                fake._record(SlackCall("apps.connections.open", {}, authorized, self.path))
                if authorized:
                    self._send(200, {"ok": True, "url": fake.socket.url})
                else:
                    self._send(200, {"ok": False, "error": "invalid_auth"})

        return Handler


def slash_command(text: str, *, user: str, response_url: str, channel: str = "C0OPS") -> dict:
    """The payload of a ``slash_commands`` envelope (the HTTP form's fields, as JSON)."""
    return {
        "token": "deprecated-verification-token",
        "team_id": "T0TEST",
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "ops",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/smtp",
        "text": text,
        "api_app_id": "A0SMTPBOT",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(_ids)}.1.abc",
    }


def block_actions(action_id: str, value: str, *, user: str, channel: str, message_ts: str) -> dict:
    """The payload of an ``interactive`` envelope: a button pressed on a message."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0SMTPBOT",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": f"{next(_ids)}.1.def",
        "team": {"id": "T0TEST", "domain": "test"},
        "channel": {"id": channel, "name": "ops"},
        "message": {"type": "message", "ts": message_ts, "text": "card"},
        "state": {"values": {}},
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"req-{value}-decide",
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
