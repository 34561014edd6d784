"""A ``transport: rest`` Exchange tenant through Slack: signed `/smtp` commands, approvals, the
real ``smtp-bot serve`` with msal signing in to the loopback Entra ID endpoint, and the real
REST provider against the loopback InvokeCommand/$batch endpoint (both HTTPS, a test CA)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme

from tests.e2e.conftest import (
    APPROVER,
    APPROVER_2,
    BOT_TOKEN,
    REQUESTER,
    SIGNING_SECRET,
    bot_env,
    launch,
    stop,
)
from tests.fakes.app_certs import make_app_cert
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.exchange_rest import FakeExchangeRest
from tests.fakes.ms_login import EXCHANGE_ROLE, FakeLogin
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import server_tls

APP_ID = "11111111-2222-3333-4444-555555555555"
CERT_PASSWORD = "e2e-Rest-Cert-pa55"
BULK = 1000

CONFIG = """\
slack:
  allowed_team_ids: [T0TEST]
limits:
  change_requests_per_user: 1000
tenants:
  contoso:
    provider: exchange
    transport: rest
    tenant_id: {tenant_id}
    organization: contoso.onmicrosoft.com
    app_id: {app_id}
    certificate_path: {cert}
    certificate_password: ${{CONTOSO_CERT_PASSWORD}}
    authority_host: {login}
    exchange_url: {exchange}
    verify_tls: {ca}
    approvers: [{approver}, {approver2}]
    channel: C0EXCH
    channels: [C0OPS, C0EXCH]
    notify_approvers: false
"""


@dataclass
class RestBot:
    slack: FakeSlack
    login: FakeLogin
    exchange: FakeExchangeRest
    sender: SlackSender
    db_url: str
    log_path: Path

    def query(self, sql: str) -> list[tuple]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def rest_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestBot]:
    workdir = tmp_path_factory.mktemp("rest-bot")
    ca = trustme.CA()
    ca_path = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    app = make_app_cert("smtp-bot-e2e")
    cert = app.write_pfx(workdir / "app.pfx", CERT_PASSWORD)
    org = FakeExchangeOrg(org_disabled=False)
    for i in range(BULK):
        org.add_mailbox(f"scan{i:04d}@contoso.com")
    with (
        FakeSlack(token=BOT_TOKEN) as slack,
        FakeLogin(tls=server_tls(ca)) as login,
        FakeExchangeRest(org, tls=server_tls(ca), tenant_id=login.tenant_id) as exchange,
    ):
        login.register_app(APP_ID, app.cert_pem, {exchange.url: [EXCHANGE_ROLE]})
        login.issuers[exchange.url] = exchange.issue_token  # Entra ID mints Exchange's tokens
        yield from _serve(workdir, slack, login, exchange, cert, ca_path)
    assert exchange.violations == []  # only the documented JSON went over the wire


def _serve(
    workdir: Path,
    slack: FakeSlack,
    login: FakeLogin,
    exchange: FakeExchangeRest,
    cert: Path,
    ca_path: Path,
) -> Iterator[RestBot]:
    config = workdir / "smtp-bot.yml"
    config.write_text(
        CONFIG.format(
            tenant_id=login.tenant_id,
            app_id=APP_ID,
            cert=cert,
            login=login.url,
            exchange=exchange.url,
            ca=ca_path,
            approver=APPROVER,
            approver2=APPROVER_2,
        )
    )
    env = bot_env(workdir, slack, config, CONTOSO_CERT_PASSWORD=CERT_PASSWORD)
    process, url, log_path = launch(workdir, env)
    try:
        sender = SlackSender(url, SIGNING_SECRET, slack.base_url + "/response/")
        yield RestBot(
            slack, login, exchange, sender, f"sqlite:///{workdir / 'smtp-bot.db'}", log_path
        )
    finally:
        stop(process)


def _request(bot: RestBot, text: str) -> tuple[int, str]:
    response, name = bot.sender.command(text, user=REQUESTER)
    assert response.status_code == 200, response.text
    reply = bot.slack.wait_for_call(
        "response_url", lambda c: c.path.endswith("/" + name), timeout=30
    )
    assert "waiting for approval" in reply.args["text"], reply.args["text"]
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    (ts,) = [r[0] for r in bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")]
    return request_id, ts


def _approve(bot: RestBot, request_id: int, ts: str, *users: str) -> None:
    for user in users:
        bot.sender.press(
            "smtp_approve", str(request_id), user=user, channel="C0EXCH", message_ts=ts
        )


def _status(bot: RestBot, request_id: int) -> str:
    return bot.query(f"SELECT status FROM change_request WHERE id={request_id}")[0][0]


def _wait(bot: RestBot, request_id: int, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _status(bot, request_id) != status:
        assert time.monotonic() < deadline, f"#{request_id} is {_status(bot, request_id)}"
        time.sleep(0.05)


def _result(bot: RestBot, ts: str) -> str:
    call = bot.slack.wait_for_call(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == ts, timeout=60
    )
    return str(call.args["text"])


def test_one_mailbox_disabled_enabled_and_reset_read_back_each_time(rest_bot: RestBot) -> None:
    box = rest_bot.exchange.org.add_mailbox("printer@contoso.com")
    for verb, expected in (("disable", True), ("enable", False), ("reset", None)):
        request_id, ts = _request(rest_bot, f"{verb} contoso printer@contoso.com --reason e2e")
        _approve(rest_bot, request_id, ts, APPROVER)
        _wait(rest_bot, request_id, "succeeded")
        assert box.smtp_auth_disabled is expected, verb
        assert "printer@contoso.com" in _result(rest_bot, ts)
    assert rest_bot.login.token_requests >= 1  # msal signed in with the certificate


def test_the_org_is_disabled_and_enabled_with_two_approvals(rest_bot: RestBot) -> None:
    org = rest_bot.exchange.org
    for verb, expected in (("disable", True), ("enable", False)):
        request_id, ts = _request(rest_bot, f'{verb} contoso --reason "MC786329"')
        _approve(rest_bot, request_id, ts, APPROVER)
        assert _status(rest_bot, request_id) == "pending"  # tenant-wide: two approvals
        _approve(rest_bot, request_id, ts, APPROVER_2)
        _wait(rest_bot, request_id, "succeeded")
        assert org.org_disabled is expected
        assert "SmtpClientAuthenticationDisabled" in _result(rest_bot, ts)


def test_status_and_an_unknown_mailbox_store_nothing(rest_bot: RestBot) -> None:
    response, name = rest_bot.sender.command("status contoso scan0001@contoso.com", user=REQUESTER)
    reply = rest_bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert reply.args.get("response_type") == "ephemeral"
    assert "follows the organisation" in reply.args["text"]
    stored = rest_bot.query("SELECT count(*) FROM change_request")
    response, name = rest_bot.sender.command("disable contoso ghost@contoso.com", user=REQUESTER)
    reply = rest_bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "Nothing was requested" in reply.args["text"]
    assert rest_bot.query("SELECT count(*) FROM change_request") == stored


def test_a_bulk_of_1000_mailboxes_is_disabled_and_every_one_read_back(rest_bot: RestBot) -> None:
    org = rest_bot.exchange.org
    targets = " ".join(f"scan{i:04d}@contoso.com" for i in range(BULK))
    request_id, ts = _request(rest_bot, f"disable contoso {targets} --reason bulk")
    rest_bot.exchange.batch_latency_s = 0.05  # slow enough for the card to show progress
    try:
        _approve(rest_bot, request_id, ts, APPROVER, APPROVER_2)
        _wait(rest_bot, request_id, "succeeded", timeout=120)
    finally:
        rest_bot.exchange.batch_latency_s = 0.0
    boxes = [org.mailbox(f"scan{i:04d}@contoso.com") for i in range(BULK)]
    assert all(b.smtp_auth_disabled is True for b in boxes)
    done = rest_bot.query(
        f"SELECT count(*) FROM request_target WHERE request_id={request_id} AND outcome='succeeded'"
    )
    assert done == [(BULK,)]
    assert "1,000" in _result(rest_bot, ts) or "1000" in _result(rest_bot, ts)
    summaries = [
        c for c in rest_bot.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts
    ]
    assert len(summaries) == 1  # one summary, never a message per mailbox
    batches = [s for s in rest_bot.exchange.served if s.path.endswith("/$batch")]
    assert batches and max(len(b.cmdlets) for b in batches) <= 10
    cards = [
        json.dumps(c.args.get("blocks"))
        for c in rest_bot.slack.calls_to("chat.update")
        if c.args.get("ts") == ts
    ]
    progress = [c for c in cards if "executing: " in c and " of 1,000 done" in c]
    assert any(f"executing: {n:,} of 1,000 done" in c for c in progress for n in range(1, BULK))
    assert "Done, verified (1000 of 1000 targets succeeded" in cards[-1]
