"""`/smtp usage` end to end: the real `smtp-bot serve`, signed Slack requests, real msal
against the loopback Entra ID token endpoint, the real Graph client against the loopback
Graph sign-in log (HTTPS, paging), and the real ExchangeProvider over pywinrm to the loopback
Windows host. Usage is answered to the caller only; its button stores ONE request; approved,
it sets the exceptions first, then the organisation, every change read back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import trustme

from tests.e2e.conftest import (
    APPROVER,
    APPROVER_2,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    WINRM_PASSWORD,
    Bot,
    bot_env,
    launch,
    stop,
)
from tests.e2e.test_walking_skeleton import _wait_status
from tests.fakes.app_certs import make_app_cert
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.exchange_rest import FakeExchangeRest
from tests.fakes.graph_signins import FakeGraph
from tests.fakes.ms_login import FakeLogin
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm, server_tls
from tests.fakes.winrm_host import FakeWinRMHost

APP_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "8f1c2b4e-1111-4a5b-9c3d-0123456789ab"
BOT_TOKEN = "xoxb-usage-bot-token"

CONFIG = """\
slack:
  allowed_team_ids: [T0TEST]
tenants:
  contoso:
    provider: exchange
    organization: contoso.onmicrosoft.com
    app_id: {app_id}
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    winrm:
      url: {winrm_url}
      transport: basic
      username: CONTOSO\\svc-smtpbot
      password: ${{CONTOSO_WINRM_PASSWORD}}
    certificate_path: {certificate}
    authority_host: {login_url}
    graph_url: {graph_url}
    verify_tls: {ca}
    approvers: [{approver}, {approver2}]
    requesters: [{requester}]
    allow_plaintext: true
    channel: C0EXCH
    notify_approvers: false
  fabrikam:
    provider: exchange
    transport: rest
    tenant_id: {tenant_id}
    organization: contoso.onmicrosoft.com
    app_id: {app_id}
    certificate_path: {certificate}
    authority_host: {login_url}
    exchange_url: {rest_url}
    graph_url: {graph_url}
    verify_tls: {ca}
    domains: [fabrikam.com]
    approvers: [{approver}, {approver2}]
    channel: C0REST
    notify_approvers: false
  nograph:
    provider: exchange
    organization: nograph.onmicrosoft.com
    app_id: {app_id}
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    winrm:
      url: {winrm_url}
      transport: basic
      username: NOGRAPH\\svc
      password: ${{CONTOSO_WINRM_PASSWORD}}
    approvers: [{approver}, {approver2}]
    allow_plaintext: true
  acme:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    allow_plaintext: true
    approvers: [{approver}, {approver2}]
"""


@dataclass
class UsageBot:
    bot: Bot
    graph: FakeGraph
    login: FakeLogin
    org: FakeExchangeOrg
    host: FakeWinRMHost
    rest: FakeExchangeRest  # the REST tenant's Exchange Online (its own organisation)
    applied: list[tuple[str, str, bool | None]]  # (scope, identity, value) in the order set


def _recording(org: FakeExchangeOrg, applied: list) -> None:
    """Record each change the Windows host's script makes, in order (wraps the fake's
    per-item step, whatever else it is passed)."""
    inner = org._item

    def item(r, *args, **kw):  # type: ignore[no-untyped-def]
        result = inner(r, *args, **kw)
        if kw.get("op") == "apply" and r.get("changed"):
            applied.append((str(r["scope"]), str(r.get("identity", "")), kw.get("want")))
        return result

    org._item = item  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def usage_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UsageBot]:
    workdir = tmp_path_factory.mktemp("usage")
    ca = trustme.CA()
    ca_path = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert = make_app_cert("smtp-bot-usage")
    certificate = cert.write_pem(workdir / "app.pem")
    login = FakeLogin(tls=server_tls(ca, "localhost", "127.0.0.1"), tenant_id=TENANT_ID).start()
    graph = FakeGraph(ca).start()
    login.register_app(APP_ID, cert.cert_pem, roles={graph.url: ["AuditLog.Read.All"]})

    def issued_by_login(token: str) -> bool:
        try:
            login.verify(token, graph.url)
        except jwt.PyJWTError:
            return False
        return True

    graph.accept = issued_by_login
    rest = FakeExchangeRest(
        FakeExchangeOrg(org_disabled=False), tls=server_tls(ca), tenant_id=TENANT_ID
    ).start()
    login.register_app(APP_ID, cert.cert_pem, roles={rest.url: ["Exchange.ManageAsApp"]})
    login.issuers[rest.url] = rest.issue_token  # Exchange accepts the tokens it knows
    org = FakeExchangeOrg(org_disabled=False)
    applied: list[tuple[str, str, bool | None]] = []
    _recording(org, applied)
    host = FakeWinRMHost(org, password=WINRM_PASSWORD).__enter__()
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm().start()
    config = workdir / "smtp-bot.yml"
    config.write_text(
        CONFIG.format(
            app_id=APP_ID,
            winrm_url=host.url,
            certificate=certificate,
            login_url=login.url,
            graph_url=graph.url,
            rest_url=rest.url,
            tenant_id=TENANT_ID,
            ca=ca_path,
            whm_url=whm.url,
            approver=APPROVER,
            approver2=APPROVER_2,
            requester=REQUESTER,
        )
    )
    env = bot_env(workdir, slack, config, SLACK_BOT_TOKEN=BOT_TOKEN)
    try:
        process, url, log_path = launch(workdir, env)
    except BaseException:
        for fake in (slack, whm, graph, login, rest):
            fake.stop()
        host.__exit__(None, None, None)
        raise
    sender = SlackSender(url, SIGNING_SECRET, slack.base_url + "/response/")
    bot = Bot(
        url, process, f"sqlite:///{workdir / 'smtp-bot.db'}", log_path, slack, whm, sender, host
    )
    try:
        yield UsageBot(bot, graph, login, org, host, rest, applied)
    finally:
        stop(process)
        for fake in (slack, whm, graph, login, rest):
            fake.stop()
        host.__exit__(None, None, None)


def _ask(ub: UsageBot, text: str, user: str = REQUESTER) -> tuple[str, list[dict]]:
    response, name = ub.bot.sender.command(text, user=user)
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"  # the ack: reading…
    reply = ub.bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name), 20)
    assert reply.args.get("response_type") == "ephemeral"  # answered to the caller only
    return str(reply.args.get("text") or ""), list(reply.args.get("blocks") or [])


def _card_ref(bot: Bot, request_id: int) -> str:
    """The card's ts once the bot has stored it (just after Slack answered the post)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ref = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
        if ref:
            return str(ref)
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} has no card")


def _button(blocks: list[dict]) -> dict:
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    (button,) = actions["elements"]
    return button


def test_usage_then_the_button_then_one_approved_request_exempts_then_switches(
    usage_bot: UsageBot,
) -> None:
    ub, now = usage_bot, datetime.now(UTC)
    org = ub.org
    scanner = org.add_mailbox("scanner@contoso.com")  # $null: would break
    erp = org.add_mailbox("erp@contoso.com", disabled=False)  # allowed on its own already
    old = org.add_mailbox("old@contoso.com", disabled=True)  # blocked on its own
    quiet = org.add_mailbox("quiet@contoso.com")  # no SMTP AUTH: left to follow the org
    for i in range(1200):  # more than one Graph page (1,000 a page)
        ub.graph.add("scanner@contoso.com", now - timedelta(minutes=5 * i), f"203.0.113.{i % 3}")
    ub.graph.add("erp@contoso.com", now - timedelta(days=2), "198.51.100.7")
    ub.graph.add("old@contoso.com", now - timedelta(days=6), "198.51.100.8")
    ub.graph.add("gone@contoso.com", now - timedelta(days=9), "198.51.100.9")  # outside 7d

    text, blocks = _ask(ub, "usage contoso")
    body = json.dumps(blocks, ensure_ascii=False)
    assert "3 user(s), 1202 successful sign-in(s)" in body, body
    assert "scanner@contoso.com" in body and "gone@contoso.com" not in body
    assert "1 would break: their own setting is `$null`" in body
    assert "1 stay allowed: their own setting is `$false`" in body
    assert "1 are blocked already" in body
    button = _button(blocks)
    assert button["text"]["text"] == "Request org-wide disable, keeping these 2"
    signin_pages = [r for r in ub.graph.sign_in_requests() if r.status == 200]
    assert len(signin_pages) == 2 and "$skiptoken" in signin_pages[1].params
    assert ub.bot.query("SELECT count(*) FROM change_request") == [(0,)]  # read-only

    ub.bot.sender.press(
        button["action_id"], button["value"], user=REQUESTER, channel="C0OPS", message_ts="1.1"
    )
    card = ub.bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: c.args.get("channel") == "C0EXCH" and not c.args.get("thread_ts"),
        20,
    )
    card_text = json.dumps(card.args["blocks"], ensure_ascii=False)
    assert "Disable SMTP AUTH org-wide, keeping these 2 mailboxes allowed" in card_text
    assert "`scanner@contoso.com`" in card_text and "`erp@contoso.com`" in card_text
    assert "0 of 2 approvals" in card_text
    rows = ub.bot.query("SELECT id, verb, tenant_wide FROM change_request")
    assert len(rows) == 1 and rows[0][1] == "disable"  # ONE request
    request_id = rows[0][0]
    targets = ub.bot.query(
        f"SELECT target, verb FROM request_target WHERE request_id={request_id} ORDER BY position"
    )
    assert targets == [
        ("scanner@contoso.com", "enable"),
        ("erp@contoso.com", "enable"),
        ("*", None),
    ]

    ts = _card_ref(ub.bot, request_id)
    for approver in (APPROVER, APPROVER_2):
        ub.bot.sender.press(
            "smtp_approve", str(request_id), user=approver, channel="C0EXCH", message_ts=ts
        )
    _wait_status(ub.bot, request_id, "succeeded", timeout=30)
    assert org.org_disabled is True
    assert scanner.smtp_auth_disabled is False and erp.smtp_auth_disabled is False
    assert old.smtp_auth_disabled is True and quiet.smtp_auth_disabled is None
    assert [scope for scope, _, _ in ub.applied] == ["mailbox", "tenant"]  # exceptions first
    assert ub.applied[-1] == ("tenant", "", True)
    result = ub.bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "succeeded" in (c.args.get("text") or ""),
        20,
    )
    assert "3 succeeded, 0 failed" in result.args["text"]

    # the same button again: that offer became a request already
    ub.bot.sender.press(
        button["action_id"], button["value"], user=REQUESTER, channel="C0OPS", message_ts="1.1"
    )
    again = ub.bot.slack.wait_for_call(
        "response_url", lambda c: "requested already" in (c.args.get("text") or ""), 20
    )
    assert f"#{request_id}" in again.args["text"]
    assert ub.bot.query("SELECT count(*) FROM change_request") == [(1,)]


def test_only_the_reader_may_press_and_a_missing_permission_is_said(usage_bot: UsageBot) -> None:
    ub = usage_bot
    ub.org.org_disabled = False
    ub.org.add_mailbox("printer@contoso.com")
    ub.graph.add("printer@contoso.com", datetime.now(UTC), "203.0.113.50")
    _, blocks = _ask(ub, "usage contoso --since 1d")
    button = _button(blocks)
    before = ub.bot.query("SELECT count(*) FROM change_request")
    ub.bot.sender.press(
        button["action_id"], button["value"], user=OUTSIDER, channel="C0OPS", message_ts="1.2"
    )
    refused = ub.bot.slack.wait_for_call(
        "response_url", lambda c: "someone else" in (c.args.get("text") or ""), 20
    )
    assert refused.args.get("response_type") == "ephemeral"
    assert ub.bot.query("SELECT count(*) FROM change_request") == before

    text, blocks = _ask(ub, "usage contoso --since 1d", user=OUTSIDER)  # reads, may not request
    assert not [b for b in blocks if b["type"] == "actions"]
    assert "not request changes for `contoso`" in json.dumps(blocks)

    ub.graph.deny_audit = True
    try:
        text, _ = _ask(ub, "usage contoso")
    finally:
        ub.graph.deny_audit = False
    assert "AuditLog.Read.All" in text and "admin consent" in text


def test_refusals_in_the_ack(usage_bot: UsageBot) -> None:
    ub = usage_bot
    read_before = len(ub.graph.sign_in_requests())
    for text, words in (
        ("usage contoso --since 31d", "--since can be at most 30d"),
        ("usage acme", "works on Exchange tenants only"),
        ("usage nograph", "`certificate_path`"),
        ("usage contoso x@contoso.com", "usage takes only a tenant name"),
    ):
        response, _ = ub.bot.sender.command(text, user=REQUESTER)
        assert response.status_code == 200
        body = response.json()
        assert body["response_type"] == "ephemeral" and words in body["text"], body
    assert len(ub.graph.sign_in_requests()) == read_before  # nothing was read


def test_a_failed_exception_leaves_the_organisation_as_it_was(usage_bot: UsageBot) -> None:
    ub = usage_bot
    ub.org.org_disabled = False
    stuck = ub.org.add_mailbox("fax@contoso.com")  # Set-CASMailbox accepted, never applied
    ub.org.sticky.add(stuck.guid)
    ub.graph.add("fax@contoso.com", datetime.now(UTC), "203.0.113.60")
    _, blocks = _ask(ub, "usage contoso --since 2d")
    button = _button(blocks)
    before = ub.bot.query("SELECT max(id) FROM change_request")[0][0]
    ub.bot.sender.press(
        button["action_id"], button["value"], user=REQUESTER, channel="C0OPS", message_ts="1.3"
    )
    waiting = ub.bot.slack.wait_for_call(
        "response_url",
        lambda c: f"Request #{before + 1} " in (c.args.get("text") or ""),
        20,
    )
    assert "waiting for approval" in waiting.args["text"]
    request_id = before + 1
    ts = _card_ref(ub.bot, request_id)
    for approver in (APPROVER, APPROVER_2):
        ub.bot.sender.press(
            "smtp_approve", str(request_id), user=approver, channel="C0EXCH", message_ts=ts
        )
    _wait_status(ub.bot, request_id, "failed", timeout=30)
    assert ub.org.org_disabled is False  # the organisation was not switched
    assert stuck.smtp_auth_disabled is None
    result = ub.bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "request #" in (c.args.get("text") or ""),
        20,
    )
    assert "The organisation was NOT switched" in result.args["text"]
    assert "fax@contoso.com" in result.args["text"]


def test_a_rest_tenant_reads_and_applies_through_invoke_command(usage_bot: UsageBot) -> None:
    """transport: rest: the same answer and the same one request, every Exchange call as
    JSON (InvokeCommand/$batch); contoso.com users are outside this tenant's domains."""
    ub = usage_bot
    org = ub.rest.org
    copier = org.add_mailbox("copier@fabrikam.com")  # $null: would break
    app = org.add_mailbox("app@fabrikam.com", disabled=False)
    ub.graph.add("copier@fabrikam.com", datetime.now(UTC), "192.0.2.10")
    ub.graph.add("app@fabrikam.com", datetime.now(UTC), "192.0.2.11")
    _, blocks = _ask(ub, "usage fabrikam --since 1d")
    body = json.dumps(blocks, ensure_ascii=False)
    assert "outside the domains of `fabrikam`" in body  # the contoso.com users of the log
    button = _button(blocks)
    assert button["text"]["text"] == "Request org-wide disable, keeping these 2"
    before = ub.bot.query("SELECT max(id) FROM change_request")[0][0] or 0
    ub.bot.sender.press(
        button["action_id"], button["value"], user=REQUESTER, channel="C0OPS", message_ts="1.4"
    )
    ub.bot.slack.wait_for_call(
        "response_url", lambda c: f"Request #{before + 1} " in (c.args.get("text") or ""), 20
    )
    request_id = before + 1
    ts = _card_ref(ub.bot, request_id)
    for approver in (APPROVER, APPROVER_2):
        ub.bot.sender.press(
            "smtp_approve", str(request_id), user=approver, channel="C0REST", message_ts=ts
        )
    _wait_status(ub.bot, request_id, "succeeded", timeout=30)
    assert org.org_disabled is True
    assert copier.smtp_auth_disabled is False and app.smtp_auth_disabled is False
    sets = [c for s in ub.rest.served for c in s.cmdlets if c.startswith("Set-")]
    assert sets[-1] == "Set-TransportConfig" and "Set-CASMailbox" in sets  # exceptions first
    assert ub.rest.violations == []
