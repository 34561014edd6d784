"""`/smtp disable|enable <tenant> --all-accounts` end to end: signed commands, the card that
says how many accounts the server had and what this stops (unlike SMTP Restrictions), two
approvals, every account suspended with the ones suspended before left alone, one summary;
then the matching enable lifts only what the disable set; and the refusals."""

from __future__ import annotations

import json

from tests.e2e.conftest import APPROVER, APPROVER_2, REQUESTER, Bot
from tests.e2e.test_walking_skeleton import _request, _status, _wait_status
from tests.e2e.test_workflow_surface import _reply

ACCOUNTS = [f"acct{i:02d}" for i in range(30)]
BEFORE = ACCOUNTS[:5]  # outgoing mail suspended before the disable


def _seed(bot: Bot) -> None:
    for user in ACCOUNTS:
        bot.whm.add_account(user, f"{user}.test")
    for user in BEFORE:
        bot.whm.set_account_state(user, outgoing_mail_suspended=1)


def _card(bot: Bot, request_id: int) -> str:
    call = bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: not c.args.get("thread_ts") and f"#{request_id}" in (c.args.get("text") or ""),
    )
    return json.dumps(call.args["blocks"], ensure_ascii=False)


def _thread(bot: Bot, ts: str) -> list[str]:
    return [
        str(c.args["text"])
        for c in bot.slack.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == ts
    ]


def _approve_both(bot: Bot, request_id: int, channel: str, ts: str) -> None:
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    bot.slack.wait_for(
        lambda f: any(
            "1 of 2 approvals" in json.dumps(c.args.get("blocks"))
            for c in f.calls_to("chat.update")
            if c.args.get("ts") == ts
        )
    )
    assert _status(bot, request_id) == "pending"  # the whole server: two approvals
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER_2, channel=channel, message_ts=ts
    )


def _suspended(bot: Bot) -> set[str]:
    return {u for u in ACCOUNTS if bot.whm.account_state(u)["outgoing_mail_suspended"]}


def _refused_in_ack(bot: Bot, text: str) -> str:
    response, _ = bot.sender.command(text, user=REQUESTER)
    assert response.status_code == 200
    body = response.json()
    assert body["text"].startswith(":warning:"), body
    return str(body["text"])


def test_enable_with_no_matching_disable_is_refused_and_stores_nothing(bot: Bot) -> None:
    _seed(bot)
    before = bot.query("SELECT count(*) FROM change_request")
    text = _reply(bot, "enable acme --all-accounts")
    assert "no `disable --all-accounts` of acme is in force" in text, text
    assert "Nothing was requested" in text
    assert bot.query("SELECT count(*) FROM change_request") == before
    assert not bot.whm.calls_to("unsuspend_outgoing_email")


def test_refusals_exchange_targets_and_for(bot: Bot) -> None:
    before = bot.query("SELECT count(*) FROM change_request")
    exchange = _refused_in_ack(bot, "disable contoso --all-accounts")
    assert "works on WHM tenants only" in exchange and "Exchange tenant" in exchange
    assert "works on WHM tenants only" in _refused_in_ack(bot, "enable contoso --all-accounts")
    with_target = _refused_in_ack(bot, "disable acme account:acct07 --all-accounts")
    assert "--all-accounts takes no targets" in with_target
    assert "takes no targets" in _refused_in_ack(bot, "enable acme a@acct07.test --all-accounts")
    assert "takes no --for" in _refused_in_ack(bot, "disable acme --all-accounts --for 2h")
    assert "only goes with disable or enable" in _refused_in_ack(bot, "hold acme --all-accounts")
    assert "use --all-accounts" in _refused_in_ack(bot, "disable acme account:*")
    assert bot.query("SELECT count(*) FROM change_request") == before
    assert not bot.whm.calls_to("suspend_outgoing_email")


def test_disable_all_accounts_suspends_every_account_and_posts_one_summary(bot: Bot) -> None:
    listed = _reply(bot, "help")
    assert "`/smtp disable <tenant> [target … | --all-accounts]" in listed
    assert "`/smtp enable <tenant> [target … | --all-accounts]" in listed
    help_text = _reply(bot, "help disable")
    assert "--all-accounts" in help_text and "DOES stop Exim mail" in help_text
    assert "does NOT stop mail sent through Exim" in help_text  # no target: SMTP Restrictions
    listed_before = len(bot.whm.calls_to("listaccts"))
    request_id, channel, ts = _request(bot, 'disable acme --all-accounts --reason "outbreak"')
    card = _card(bot, request_id)
    assert "Every cPanel account on the server*: 30 when requested" in card, card
    assert "(5 of them already suspended)" in card
    assert "authenticated SMTP, webmail or scripts" in card  # what this stops …
    assert "SMTP Restrictions only" in card  # … unlike the no-target disable
    assert "0 of 2 approvals" in card and "(tenant-wide)" in card
    listaccts = bot.whm.calls_to("listaccts")[listed_before:]
    assert [c.params.get("want") for c in listaccts] == [
        "user,outgoing_mail_suspended,outgoing_mail_hold"
    ]
    assert not bot.whm.calls_to("suspend_outgoing_email")  # nothing before approval

    _approve_both(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded", timeout=30)
    assert _suspended(bot) == set(ACCOUNTS)
    suspended_by_bot = {c.params["user"] for c in bot.whm.calls_to("suspend_outgoing_email")}
    assert suspended_by_bot == set(ACCOUNTS) - set(BEFORE)  # the 5 were never touched
    updates = [
        json.dumps(c.args.get("blocks"))
        for c in bot.slack.calls_to("chat.update")
        if c.args.get("ts") == ts
    ]
    assert any("executing: 5 of 30 done" in u for u in updates), updates  # progress
    assert any("30 listed when it executed, 5 already suspended" in u for u in updates)
    bot.slack.wait_for(lambda f: _thread(bot, ts))
    [summary] = _thread(bot, ts)  # one summary, never a message per account
    assert "outgoing mail suspended for 25 of 30 accounts listed (30 when requested)" in summary
    assert "5 were suspended already and were left as they were; 0 failed" in summary
    assert "/smtp enable acme --all-accounts" in summary
    rows = bot.query(f"SELECT target, state FROM request_target WHERE request_id={request_id}")
    assert len(rows) == 30
    left = {t for t, s in rows if json.loads(s).get("left_as_it_was")}
    assert left == {f"account:{u}" for u in BEFORE}
    changed = [json.loads(s) for t, s in rows if t not in left]
    assert all(s["before"]["outgoing_mail_suspended"] == 0 and s["verified"] for s in changed)


def test_a_second_disable_all_accounts_is_refused_while_one_is_in_force(bot: Bot) -> None:
    text = _reply(bot, "disable acme --all-accounts")
    assert "is still in force (25 accounts it suspended" in text, text
    assert "/smtp enable acme --all-accounts" in text


def test_enable_all_accounts_lifts_only_what_the_disable_set(bot: Bot) -> None:
    (disable_id,) = bot.query("SELECT max(id) FROM change_request WHERE verb='disable'")[0]
    request_id, channel, ts = _request(bot, "enable acme --all-accounts --reason over")
    card = _card(bot, request_id)
    assert f"The suspensions request #{disable_id} (`disable --all-accounts`) set*: 25" in card
    assert f"5 accounts suspended before #{disable_id} stay suspended" in card
    assert "0 of 2 approvals" in card and "SMTP Restrictions are not touched" in card
    _approve_both(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded", timeout=30)
    assert _suspended(bot) == set(BEFORE)  # the 25 lifted, the 5 still suspended
    lifted = {c.params["user"] for c in bot.whm.calls_to("unsuspend_outgoing_email")}
    assert lifted == set(ACCOUNTS) - set(BEFORE)
    bot.slack.wait_for(lambda f: _thread(bot, ts))
    [summary] = _thread(bot, ts)
    assert f"suspension lifted for 25 of 25 accounts that #{disable_id} suspended" in summary
    assert f"5 suspended before #{disable_id} stay suspended; 0 failed" in summary
    again = _reply(bot, "enable acme --all-accounts")  # nothing of it left to lift
    assert "no `disable --all-accounts` of acme is in force" in again
