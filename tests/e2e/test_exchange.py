"""Exchange Online through Slack: signed `/smtp` commands, approval, and the real
ExchangeProvider over pywinrm to the loopback WS-Management host."""

from __future__ import annotations

import json

from tests.e2e.conftest import APPROVER, APPROVER_2, REQUESTER, Bot
from tests.e2e.test_walking_skeleton import _wait_status


def _exchange_request(bot: Bot, text: str) -> tuple[int, str]:
    response, name = bot.sender.command(text, user=REQUESTER)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "waiting for approval" in reply.args["text"], reply.args["text"]
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    ts = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
    return request_id, ts


def _approve(bot: Bot, request_id: int, ts: str, user: str) -> None:
    bot.sender.press("smtp_approve", str(request_id), user=user, channel="C0EXCH", message_ts=ts)


def test_mailbox_smtp_auth_disable_and_reset(bot: Bot) -> None:
    org = bot.exchange.org
    box = org.add_mailbox("printer@contoso.example", disabled=False)
    request_id, ts = _exchange_request(bot, "disable contoso printer@contoso.example --reason x")
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel="C0EXCH", message_ts=ts
    )
    _wait_status(bot, request_id, "succeeded", timeout=20)
    assert box.smtp_auth_disabled is True
    result = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    assert "printer@contoso.example" in result.args["text"]

    request_id, ts = _exchange_request(bot, "reset contoso printer@contoso.example")
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel="C0EXCH", message_ts=ts
    )
    _wait_status(bot, request_id, "succeeded", timeout=20)
    assert box.smtp_auth_disabled is None  # follows the organisation again


def test_org_wide_disable_needs_two_approvers(bot: Bot) -> None:
    org = bot.exchange.org
    org.org_disabled = False
    request_id, ts = _exchange_request(bot, 'disable contoso --reason "MC786329"')
    card = bot.slack.wait_for_call(
        "chat.postMessage", lambda c: f"#{request_id}" in (c.args.get("text") or "")
    )
    assert "0 of 2 approvals" in json.dumps(card.args["blocks"])
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel="C0EXCH", message_ts=ts
    )
    _approve(bot, request_id, ts, APPROVER_2)
    _wait_status(bot, request_id, "succeeded", timeout=20)
    assert org.org_disabled is True


def test_status_and_unknown_mailbox(bot: Bot) -> None:
    bot.exchange.org.add_mailbox("legacy@contoso.example", disabled=False)
    response, name = bot.sender.command("status contoso legacy@contoso.example", user=REQUESTER)
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "legacy@contoso.example" in reply.args["text"]
    response, name = bot.sender.command("disable contoso ghost@contoso.example", user=REQUESTER)
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "Nothing was requested" in reply.args["text"]
    response, _ = bot.sender.command("hold contoso legacy@contoso.example", user=REQUESTER)
    assert "cannot hold" in response.json()["text"]


def test_a_sign_in_failure_keeps_its_cause_in_slack_the_log_and_the_audit_trail(
    bot: Bot,
) -> None:
    org = bot.exchange.org
    org.add_mailbox("scanner@contoso.example", disabled=False)
    request_id, ts = _exchange_request(bot, "disable contoso scanner@contoso.example")
    saved = set(org.host_thumbprints)
    org.host_thumbprints.clear()  # the certificate left the host's store meanwhile
    try:
        _approve(bot, request_id, ts, APPROVER)
        _wait_status(bot, request_id, "failed", timeout=30)
    finally:
        org.host_thumbprints |= saved
    result = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    assert (
        "Exchange Online refused the app-only sign-in: the certificate with "
        "`certificate_thumbprint` is not in the Windows host's certificate store"
    ) in result.args["text"]
    host_reason = "No certificate with thumbprint 0123456789ABCDEF0123456789ABCDEF01234567"
    assert host_reason in bot.log()
    details = bot.query(
        f"SELECT detail FROM audit_event WHERE request_id = {request_id} AND detail LIKE "
        f"'%{host_reason}%'"
    )
    assert details, "the host's reason is not in the audit trail"
