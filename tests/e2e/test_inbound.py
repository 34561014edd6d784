"""Bad input before authentication, sent to the real server: bodies over the cap are refused
without being read, nothing of an unsigned body is logged, and malformed requests get
400/401 and one log line (never HTTP 500 and a traceback)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.e2e.conftest import SIGNING_SECRET, Bot

CAP = 1_000_000  # bot.running.server.MAX_BODY_BYTES


def _connect(bot: Bot) -> socket.socket:
    url = urlparse(bot.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    return sock


def _status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _head(extra: str) -> bytes:
    ts = str(int(time.time()))
    return (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: v0=00\r\n{extra}\r\n"
    ).encode()


def test_a_huge_content_length_is_refused_before_the_body_is_read(bot: Bot) -> None:
    with _connect(bot) as sock:
        sock.sendall(_head("Content-Length: 200000000\r\n"))
        sock.sendall(b"a" * 65_536)  # 64 kB of the announced 200 MB, then nothing more
        assert _status_of(sock) == 413


def test_a_streamed_body_is_not_read_past_the_cap(bot: Bot) -> None:
    with _connect(bot) as sock:
        sock.sendall(_head("Transfer-Encoding: chunked\r\n"))
        chunk = b"b" * 65_536
        sent = 0
        while sent <= CAP + len(chunk):  # a little past the cap, and the body never ends
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        assert _status_of(sock) == 413  # answered although the last chunk never came


def test_an_unsigned_body_is_not_logged(bot: Bot) -> None:
    marker = "UNSIGNEDBODYMARKER"
    body = "payload=" + (marker * 50_000)[:900_000]
    before = len(bot.log())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    }
    response = httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)
    assert response.status_code == 401
    time.sleep(0.2)  # the log line is written by the server process
    logged = bot.log()[before:]
    assert marker not in logged
    assert len(logged) < 1_000, logged  # one line, giving the size only
    assert "900008 bytes" in logged


_FORM = "application/x-www-form-urlencoded"
_COMMAND = "command=%2Fsmtp&text=help&user_id=U0REQ&team_id=T0TEST&channel_id=C0OPS"
BAD_TIMESTAMPS = ["abc", "1700000000.5", "", "-5", "１７"]
BAD_BODIES = [
    ("{", "application/json"),
    ("[1,2]", "application/json"),
    ("payload=notjson", _FORM),
    ("payload=[1]", _FORM),
    ("payload=%7B%7D&payload=%7B%7D", _FORM),
    ("{", _FORM),
    (_COMMAND, "application/json"),  # a signed form body sent as JSON
    ("\xff\xfe", _FORM),
]


def _send(bot: Bot, body: str, *, content_type: str, timestamp: str, signed: bool):
    raw = body.encode("latin-1")
    signature = "v0=" + "1" * 64
    if signed:
        text = raw.decode("utf-8", errors="replace")
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=timestamp, body=text
        )
    headers = [
        (b"Content-Type", content_type.encode()),
        (b"X-Slack-Request-Timestamp", timestamp.encode()),
        (b"X-Slack-Signature", signature.encode()),
    ]
    before = len(bot.log())
    response = httpx.post(f"{bot.url}/slack/events", content=raw, headers=headers, timeout=10)
    time.sleep(0.1)
    return response, bot.log()[before:]


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS)
def test_a_malformed_timestamp_is_400(bot: Bot, timestamp: str, signed: bool) -> None:
    response, logged = _send(bot, _COMMAND, content_type=_FORM, timestamp=timestamp, signed=signed)
    assert response.status_code == 400
    assert "Traceback" not in logged
    assert logged.count("\n") == 1, logged


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_a_malformed_body_is_400_or_401(
    bot: Bot, body: str, content_type: str, signed: bool
) -> None:
    response, logged = _send(
        bot, body, content_type=content_type, timestamp=str(int(time.time())), signed=signed
    )
    not_utf8 = body == "\xff\xfe"
    assert response.status_code == (400 if signed or not_utf8 else 401)
    assert "Traceback" not in logged
    assert logged.count("\n") == 1, logged
