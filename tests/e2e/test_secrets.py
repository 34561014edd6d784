"""No secret (tokens, signing secret) appears in logs, Slack messages or the database."""

from __future__ import annotations

import json

from tests.e2e.conftest import (
    APPROVER,
    BOT_TOKEN,
    REQUESTER,
    SIGNING_SECRET,
    WHM_TOKEN,
    WINRM_PASSWORD,
    Bot,
)


def test_full_scenario_leaks_no_secret(bot: Bot) -> None:
    bot.whm.add_account("sec1", "secret-test.test")
    bot.whm.add_mailbox("leak@secret-test.test")
    response, name = bot.sender.command(
        f"disable acme leak@secret-test.test --reason check {WHM_TOKEN[:3]}", user=REQUESTER
    )
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    ts = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
    bot.whm.fail_next("uapi_cpanel", "auth403")  # an auth failure must not leak either
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel="C0APPROVALS", message_ts=ts
    )
    bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    # an Exchange status read that fails authentication must not leak the WinRM password
    bot.exchange.faults.auth_fail = True
    _, name = bot.sender.command("status contoso someone@contoso.example", user=REQUESTER)
    failed = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    bot.exchange.faults.auth_fail = False
    assert "Could not read" in failed.args["text"] or "rejected" in failed.args["text"]

    outputs = {
        "log": bot.log(),
        "slack": json.dumps([c.args for c in bot.slack.calls]),
        "database": json.dumps(
            [
                bot.query(f"SELECT * FROM {table}")
                for table in ("change_request", "request_target", "approval", "audit_event")
            ],
            default=str,
        ),
    }
    for where, text in outputs.items():
        for secret in (BOT_TOKEN, SIGNING_SECRET, WHM_TOKEN, WINRM_PASSWORD):
            assert secret not in text, f"a secret leaked into the {where}"
    assert "rejected" in outputs["slack"]  # the auth failure was reported, without the token


def test_a_whm_echoing_the_token_reaches_neither_slack_nor_the_database(bot: Bot) -> None:
    """A misbehaving WHM sends the token where a 0/1 flag belongs: the status answer, the
    refusal of a change and the audit trail show it masked."""
    bot.whm.add_account("echo1", "echo-test.test")
    bot.whm.add_mailbox("box@echo-test.test", suspended_outgoing=WHM_TOKEN)  # type: ignore[arg-type]
    _, name = bot.sender.command("status acme box@echo-test.test", user=REQUESTER)
    status = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "[redacted]" in status.args["text"], status.args["text"]
    _, name = bot.sender.command("disable acme box@echo-test.test", user=REQUESTER)
    change = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "[redacted]" in change.args["text"], change.args["text"]
    slack = json.dumps([c.args for c in bot.slack.calls])
    database = json.dumps(
        [bot.query(f"SELECT * FROM {t}") for t in ("change_request", "audit_event")], default=str
    )
    assert WHM_TOKEN not in slack and WHM_TOKEN not in database
    assert WHM_TOKEN not in bot.log()
