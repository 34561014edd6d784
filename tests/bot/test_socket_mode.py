"""Socket Mode end to end: a real bot process connects through ``apps.connections.open`` on
the fake Web API (SLACK_API_URL) to a loopback WebSocket, acks envelopes, runs the same
listeners and worker, serves /healthz and /metrics, and exits 0 on SIGTERM. The process is
the real ``smtp-bot socket`` command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from approvals import Database
from bot.config.schema import load_config
from bot.config.settings import Settings
from bot.errors import ConfigError
from bot.running.socket_mode import run_socket
from bot.runtime import build_runtime
from tests.fakes.socket_mode import FakeSocketSlack, block_actions, slash_command
from tests.fakes.whm import FakeWhm

BOT_TOKEN = "xoxb-socket-test-3141"
APP_TOKEN = "xapp-1-A0SMTPBOT-socket-secret-2718"
WHM_TOKEN = "SOCKETWHMTOKEN9Z8Y"
CONFIG = """\
tenants:
  acme:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    approvers: [U0APPROVER]
    approvals_required_tenant_wide: 1
    allow_plaintext: true
    channel: C0APPROVALS
    notify_approvers: false
"""


@dataclass
class Env:
    slack: FakeSocketSlack
    whm: FakeWhm
    config: Path
    db_url: str


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    slack = FakeSocketSlack(token=BOT_TOKEN, app_token=APP_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    whm.add_account("acme1", "acme.test")
    whm.add_mailbox("spammer@acme.test")
    config = tmp_path / "smtp-bot.yml"
    config.write_text(CONFIG.format(whm_url=whm.url))
    try:
        yield Env(slack, whm, config, f"sqlite:///{tmp_path / 'smtp-bot.db'}")
    finally:
        whm.stop()
        threading.Thread(target=slack.stop, daemon=True).start()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environ(env: Env, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    return {
        **base,
        "SLACK_BOT_TOKEN": BOT_TOKEN,  # and no SLACK_SIGNING_SECRET: Socket Mode needs none
        "SLACK_API_URL": env.slack.api_url,
        "DATABASE_URL": env.db_url,
        "SMTP_BOT_CONFIG": str(env.config),
        "ACME_WHM_TOKEN": WHM_TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
        "SMTP_BOT_HOUSEKEEPING_INTERVAL": "0.3",
        **extra,
    }


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def _start_socket_bot(env: Env, tmp_path: Path, port: int) -> tuple[subprocess.Popen, Path]:
    """The real ``smtp-bot socket`` process, logging JSON lines to a file."""
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot",
                "socket",
                "--health-host",
                "127.0.0.1",
                "--health-port",
                str(port),
            ],
            env=_environ(env, SLACK_APP_TOKEN=APP_TOKEN, SMTP_BOT_LOG_FORMAT="json"),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        env.slack.socket.wait_connected()
    except AssertionError:
        process.kill()
        process.wait()
        raise AssertionError(log_path.read_text()) from None
    return process, log_path


def test_socket_mode_end_to_end_then_sigterm(env: Env, tmp_path: Path) -> None:
    slack, ws = env.slack, env.slack.socket
    port = _free_port()
    process, log_path = _start_socket_bot(env, tmp_path, port)
    try:
        (opened,) = slack.calls_to("apps.connections.open")
        assert opened.authorized  # with the app-level token, through SLACK_API_URL

        help_url = slack.response_url("socket-help")
        ack = ws.wait_for_ack(
            ws.send("slash_commands", slash_command("help", user="U0REQ", response_url=help_url))
        )
        assert set(ack) == {"envelope_id"}  # help is answered through the response_url
        reply = slack.wait_for_call("response_url", lambda c: c.path.endswith("/socket-help"))
        assert "/smtp disable" in reply.args["text"]

        response_url = slack.response_url("socket-disable")
        command = slash_command(
            "disable acme spammer@acme.test --reason spam", user="U0REQ", response_url=response_url
        )
        ack = ws.wait_for_ack(ws.send("slash_commands", command))
        assert "Checking your `disable` request" in ack["payload"]["text"]
        reply = slack.wait_for_call("response_url", lambda c: c.path.endswith("/socket-disable"))
        assert "waiting for approval" in reply.args["text"], reply.args
        request_id = reply.args["text"].split("#", 1)[1].split()[0]
        card = slack.wait_for_call("chat.postMessage", lambda c: not c.args.get("thread_ts"))
        (ts,) = [ts for (channel, ts) in slack.messages if channel == "C0APPROVALS"]
        assert card.args["channel"] == "C0APPROVALS" and card.authorized

        press = block_actions(
            "smtp_approve", request_id, user="U0APPROVER", channel="C0APPROVALS", message_ts=ts
        )
        ack = ws.wait_for_ack(ws.send("interactive", press))
        assert set(ack) == {"envelope_id"}  # a bare ack
        result = slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
        assert "spammer@acme.test" in result.args["text"]
        assert env.whm.mailbox_state("spammer@acme.test")["suspended_outgoing"] == 1

        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json() | {"tenants": 1} == {
            "status": "ok",
            "database": "ok",
            "worker": "ok",
            "tenants": 1,
        }
        samples = _samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        done = ("smtp_bot_requests", frozenset({"tenant": "acme", "verb": "disable"}.items()))
        assert samples[(done[0], done[1] | {("status", "succeeded")})] == 1
        opened_total = (
            "smtp_bot_slack_api_calls_total",
            frozenset({("method", "apps.connections.open")}),
        )
        assert samples[opened_total] == 1
        assert httpx.post(f"http://127.0.0.1:{port}/slack/events").status_code in (404, 405)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        ws.wait_closed()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines and all(
        {"ts", "level", "logger", "message", "request_id"} <= set(e) for e in lines
    )
    executed = [e["message"] for e in lines if e["request_id"] == request_id]  # the worker's
    assert any(m.startswith("executing disable on acme") for m in executed), executed
    assert any(m.startswith("finished: succeeded") for m in executed), executed
    for secret in (APP_TOKEN, BOT_TOKEN, WHM_TOKEN):
        assert secret not in output


@pytest.mark.parametrize("reason", ["refresh_requested", None])
def test_the_bot_reconnects_when_slack_ends_the_connection(
    env: Env, tmp_path: Path, reason: str | None
) -> None:
    """Slack ends Socket Mode connections (about hourly, on deploys: a ``disconnect``
    message), and networks drop them without a word (None). Either way the bot opens a new
    one with ``apps.connections.open`` and goes on answering, without a restart."""
    slack, ws = env.slack, env.slack.socket
    process, log_path = _start_socket_bot(env, tmp_path, _free_port())
    try:
        ws.disconnect(reason)
        try:
            ws.wait_connections(2, timeout=60)
        except AssertionError:
            raise AssertionError(log_path.read_text()) from None
        assert len(slack.calls_to("apps.connections.open")) >= 2
        assert process.poll() is None

        help_url = slack.response_url("after-reconnect")
        ws.wait_for_ack(
            ws.send("slash_commands", slash_command("help", user="U0REQ", response_url=help_url))
        )
        reply = slack.wait_for_call("response_url", lambda c: c.path.endswith("/after-reconnect"))
        assert "/smtp disable" in reply.args["text"]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert APP_TOKEN not in log_path.read_text()


def test_missing_app_token_is_a_config_error(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _environ(env).items():
        monkeypatch.setenv(name, value)
    db = Database(env.db_url)
    db.upgrade()
    rt = build_runtime(Settings(), load_config(env.config), db)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        run_socket(rt, stop=threading.Event())
    assert rt.worker is None  # refused before starting anything
    rt.close()


def test_refused_app_token_stops_cleanly_with_a_config_error(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _environ(env, SLACK_APP_TOKEN="xapp-wrong-token-0000").items():
        monkeypatch.setenv(name, value)
    db = Database(env.db_url)
    db.upgrade()
    rt = build_runtime(Settings(), load_config(env.config), db)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="invalid_auth"):
        run_socket(rt, stop=threading.Event())
    assert time.monotonic() - started < 10
    assert rt.worker is not None and not rt.worker.alive  # the worker was stopped on the way out
    (call,) = env.slack.calls_to("apps.connections.open")
    assert not call.authorized
