"""`/smtp policy` and `/smtp set` end to end: signed commands, the card, two approvals, WHM's
Tweak Settings changed and read back, put back together, and restored by --for; and what a
whole-server disable says it does."""

from __future__ import annotations

import json

from tests.e2e.conftest import APPROVER, APPROVER_2, OUTSIDER, REQUESTER, Bot
from tests.e2e.test_walking_skeleton import _request, _status, _wait_status
from tests.e2e.test_workflow_surface import _reply


def _card(bot: Bot, request_id: int) -> str:
    call = bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: not c.args.get("thread_ts") and f"#{request_id}" in (c.args.get("text") or ""),
    )
    return json.dumps(call.args["blocks"], ensure_ascii=False)


def _result(bot: Bot, ts: str) -> str:
    call = bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "request #" in c.args.get("text", ""),
    )
    return str(call.args["text"])


def _refused(bot: Bot, text: str) -> str:
    """A command refused in the acknowledgement (the ack is its whole answer)."""
    response, _ = bot.sender.command(text, user=REQUESTER)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral" and body["text"].startswith(":warning:"), body
    return str(body["text"])


def _approve_both(bot: Bot, request_id: int, channel: str, ts: str) -> None:
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    bot.slack.wait_for(
        lambda f: any(
            "1 of 2 approvals" in json.dumps(c.args.get("blocks"))
            for c in f.calls_to("chat.update")
            if c.args.get("ts") == ts
        )
    )
    assert _status(bot, request_id) == "pending"  # a server setting needs two approvals
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER_2, channel=channel, message_ts=ts
    )


def test_policy_answers_the_caller_only_with_every_value(bot: Bot) -> None:
    bot.whm.tweaks.values["email_outbound_spam_detect_action"] = "hold"
    requests_before = bot.query("SELECT count(*) FROM change_request")
    response, name = bot.sender.command("policy acme", user=OUTSIDER)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert reply.args.get("response_type") == "ephemeral"
    text = reply.args["text"]
    assert "`smtpmailgidonly` (SMTP Restrictions): *on*" in text
    assert "`email_outbound_spam_detect_action` (Outbound spam detection action): *hold*" in text
    assert "`maxemailsperhour` (Max hourly emails per domain): *unlimited*" in text
    assert "`email_send_limits_defer_cutoff`" in text and "*125*" in text
    assert text.count("\n• `") == 10  # ten settings, one line each
    assert bot.query("SELECT count(*) FROM change_request") == requests_before
    assert not bot.whm.calls_to("set_tweaksetting")


def test_set_two_keys_card_two_approvals_applied_and_read_back(bot: Bot) -> None:
    bot.whm.tweaks.values.update(
        {
            "email_outbound_spam_detect_action": "noaction",
            "email_outbound_spam_detect_threshold": "500",
        }
    )
    request_id, channel, ts = _request(
        bot,
        "set acme email_outbound_spam_detect_action=block "
        'email_outbound_spam_detect_threshold=120 --reason "outbreak"',
    )
    card = _card(bot, request_id)
    assert "`email_outbound_spam_detect_action=block`" in card
    assert "`email_outbound_spam_detect_threshold=120`" in card
    assert "0 of 2 approvals" in card and "Tweak Settings of the whole server" in card
    assert bot.whm.tweaks.values["email_outbound_spam_detect_action"] == "noaction"
    _approve_both(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.tweaks.values["email_outbound_spam_detect_action"] == "block"
    assert bot.whm.tweaks.values["email_outbound_spam_detect_threshold"] == "120"
    result = _result(bot, ts)
    assert "2 succeeded, 0 failed" in result
    assert "noaction → block" in result and "500 → 120" in result
    after = bot.query(
        f"SELECT state FROM request_target WHERE request_id={request_id} ORDER BY position"
    )
    assert json.loads(after[0][0])["verified"] is True


def test_a_failing_key_puts_the_others_back_and_says_so(bot: Bot) -> None:
    bot.whm.tweaks.values["maxemailsperhour"] = "500"
    bot.whm.tweaks.broken.add("popbeforesmtp")
    try:
        request_id, channel, ts = _request(bot, "set acme maxemailsperhour=40 popbeforesmtp=on")
        _approve_both(bot, request_id, channel, ts)
        _wait_status(bot, request_id, "failed")
        assert bot.whm.tweaks.values["maxemailsperhour"] == "500"
        assert ("maxemailsperhour", "40") in bot.whm.tweaks.sets  # it was changed, then put back
        result = _result(bot, ts)
        assert "put back to 500 (read back) because popbeforesmtp failed" in result
        assert "Changes were not saved" in result
    finally:
        bot.whm.tweaks.broken.discard("popbeforesmtp")


def test_for_restores_every_previous_value(bot: Bot) -> None:
    bot.whm.tweaks.values.update({"maxemailsperhour": "300", "nobodyspam": 0})
    request_id, channel, ts = _request(bot, "set acme maxemailsperhour=25 nobodyspam=on --for 2s")
    assert "then set automatically" in _card(bot, request_id)
    _approve_both(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    assert (bot.whm.tweaks.values["maxemailsperhour"], bot.whm.tweaks.values["nobodyspam"]) == (
        "25",
        1,
    )
    ended = bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "timed restriction" in c.args["text"],
        timeout=15,
    )
    assert "set on 2 of 2" in ended.args["text"]
    assert (bot.whm.tweaks.values["maxemailsperhour"], bot.whm.tweaks.values["nobodyspam"]) == (
        "300",
        0,
    )
    events = [
        r[0] for r in bot.query(f"SELECT event FROM audit_event WHERE request_id={request_id}")
    ]
    assert events.count("revert_succeeded") == 2


def test_unknown_keys_bad_values_and_unrestorable_for_are_refused_before_storing(
    bot: Bot,
) -> None:
    before = bot.query("SELECT count(*) FROM change_request")
    unknown = _refused(bot, "set acme maxemails=5")
    assert "is not a setting the bot may change" in unknown and "`maxemailsperhour`" in unknown
    assert "from 100 to 10,000%" in _refused(bot, "set acme email_send_limits_defer_cutoff=50")
    assert "use noaction | hold | block" in _refused(
        bot, "set acme email_outbound_spam_detect_action=drop"
    )
    assert "is not a value" in _refused(bot, "set acme maxemailsperhour=5%26x=1")
    assert "is not key=value" in _refused(bot, "set acme nobodyspam=on\r\nx")
    bot.whm.tweaks.values["email_send_limits_max_defer_fail_percentage"] = None
    refused = _reply(bot, "set acme email_send_limits_max_defer_fail_percentage=20 --for 1h")
    assert "--for could not undo this change" in refused
    assert "has no WHM Tweak Settings" in _refused(bot, "policy contoso")
    assert bot.query("SELECT count(*) FROM change_request") == before


def test_whole_server_disable_says_what_it_does_not_stop(bot: Bot) -> None:
    listed = _reply(bot, "help")
    assert "`/smtp policy <tenant>`" in listed and "`/smtp set <tenant> <key>=<value>…" in listed
    help_text = _reply(bot, "help disable")
    assert "does NOT stop mail sent through Exim" in help_text
    assert "SMTP AUTH off for the whole organisation" in help_text
    bot.whm.smtp_restriction = 0
    request_id, channel, ts = _request(bot, "disable acme --reason lockdown")
    card = _card(bot, request_id)
    assert "What this does" in card
    assert "does NOT stop mail sent through Exim (authenticated SMTP, webmail, PHP mail())" in card
    _approve_both(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    result = _result(bot, ts)
    assert "It does NOT stop mail sent through Exim" in result
    assert bot.whm.smtp_restriction == 1
