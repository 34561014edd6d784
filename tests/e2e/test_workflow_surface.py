"""The approval workflow through signed Slack requests: groups, 2-of-2 tenant-wide, cancel,
expiry, list, history, approver DMs and App Home."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import APPROVER, APPROVER_2, GROUPIE, OUTSIDER, REQUESTER, Bot
from tests.e2e.test_walking_skeleton import _request, _status, _wait_status


def _reply(bot: Bot, text: str, user: str = REQUESTER) -> str:
    response, name = bot.sender.command(text, user=user)
    assert response.status_code == 200
    return bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name)).args[
        "text"
    ]


def test_group_member_approves_and_approvers_are_messaged(bot: Bot) -> None:
    bot.whm.add_account("grp1", "grp-one.test")
    bot.whm.add_mailbox("m@grp-one.test")
    response, name = bot.sender.command("disable grp m@grp-one.test", user=REQUESTER)
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    ts = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
    # the group is expanded and every approver gets a DM with the card's link
    bot.slack.wait_for(lambda f: len(f.calls_to("conversations.open")) >= 2)
    opened = {c.args["users"] for c in bot.slack.calls_to("conversations.open")}
    assert opened >= {GROUPIE, APPROVER}
    assert REQUESTER not in opened
    dm = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args["channel"].startswith("D"))
    assert "test.example/archives/C0GRP" in dm.args["text"]
    # a group member who is not listed by ID approves
    bot.sender.press("smtp_approve", str(request_id), user=GROUPIE, channel="C0GRP", message_ts=ts)
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.mailbox_state("m@grp-one.test")["suspended_outgoing"] == 1


def test_tenant_wide_change_needs_two_of_two(bot: Bot) -> None:
    bot.whm.smtp_restriction = 0
    request_id, channel, ts = _request(bot, 'disable acme --reason "server-wide lockdown"')
    card = bot.slack.wait_for_call(
        "chat.postMessage", lambda c: f"#{request_id}" in (c.args.get("text") or "")
    )
    assert "WHOLE TENANT" in json.dumps(card.args["blocks"])
    assert "0 of 2 approvals" in json.dumps(card.args["blocks"])
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    bot.slack.wait_for(
        lambda f: any(
            "1 of 2 approvals" in json.dumps(c.args.get("blocks"))
            for c in f.calls_to("chat.update")
            if c.args.get("ts") == ts
        )
    )
    assert _status(bot, request_id) == "pending"
    assert bot.whm.smtp_restriction == 0
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER_2, channel=channel, message_ts=ts
    )
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.smtp_restriction == 1


def test_cancel_by_button_and_by_command(bot: Bot) -> None:
    bot.whm.add_account("can1", "cancel-one.test")
    bot.whm.add_mailbox("c@cancel-one.test")
    first, channel, ts = _request(bot, "disable acme c@cancel-one.test")
    # only the requester may cancel
    bot.sender.press("smtp_cancel", str(first), user=OUTSIDER, channel=channel, message_ts=ts)
    refusal = bot.slack.wait_for_call(
        "chat.postEphemeral", lambda c: c.args.get("user") == OUTSIDER
    )
    assert "Only the requester" in refusal.args["text"]
    bot.sender.press("smtp_cancel", str(first), user=REQUESTER, channel=channel, message_ts=ts)
    _wait_status(bot, first, "cancelled")
    second, _, _ = _request(bot, "disable acme c@cancel-one.test")
    assert "cancelled" in _reply(bot, f"cancel {second}")
    assert _status(bot, second) == "cancelled"
    assert f"#{second} has already been cancelled." in _reply(bot, f"cancel {second}")


def test_expiry_updates_the_card(bot: Bot) -> None:
    bot.whm.add_account("exp1", "expire-one.test")
    bot.whm.add_mailbox("e@expire-one.test")
    response, name = bot.sender.command("disable fast e@expire-one.test", user=REQUESTER)
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    _wait_status(bot, request_id, "expired", timeout=10)
    ts = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
    bot.slack.wait_for(
        lambda f: any(
            "Expired" in json.dumps(c.args.get("blocks"))
            for c in f.calls_to("chat.update")
            if c.args.get("ts") == ts
        )
    )
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel="C0OPS", message_ts=ts)
    time.sleep(0.3)
    assert bot.whm.mailbox_state("e@expire-one.test")["suspended_outgoing"] == 0


def test_list_and_history(bot: Bot) -> None:
    bot.whm.add_account("lst1", "list-one.test")
    bot.whm.add_mailbox("l@list-one.test")
    request_id, channel, ts = _request(bot, "hold acme l@list-one.test --reason queue it")
    listing = _reply(bot, "list acme", user=OUTSIDER)
    assert f"#{request_id}" in listing and "l@list-one.test" in listing
    assert "waiting" in listing
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "succeeded")
    assert f"#{request_id}" not in _reply(bot, "list acme")
    history = _reply(bot, "history acme l@list-one.test --limit 10")
    lines = history.splitlines()
    assert "newest first" in lines[0]
    assert "succeeded" in lines[1] and "requested" in lines[-1]
    assert all(f"#{request_id}" in line for line in lines[1:])


def test_app_home_shows_waiting_requests_and_its_buttons_work(bot: Bot) -> None:
    bot.whm.add_account("home1", "home-one.test")
    bot.whm.add_mailbox("h@home-one.test")
    request_id, _, _ = _request(bot, "disable acme h@home-one.test")
    response = bot.sender.event(
        {"type": "app_home_opened", "user": APPROVER_2, "channel": "D0HOME", "tab": "home"}
    )
    assert response.status_code == 200
    published = bot.slack.wait_for_call(
        "views.publish",
        lambda c: c.args["user_id"] == APPROVER_2 and f"#{request_id}" in json.dumps(c.args),
    )
    blocks = published.args["view"]["blocks"]
    assert len(blocks) <= 100
    buttons = [
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["value"] == str(request_id)
    ]
    assert {b["action_id"] for b in buttons} == {"smtp_approve", "smtp_deny"}
    # the requester's own Home lists it as theirs, without approve buttons
    bot.sender.event(
        {"type": "app_home_opened", "user": REQUESTER, "channel": "D0R", "tab": "home"}
    )
    own = bot.slack.wait_for_call(
        "views.publish",
        lambda c: c.args["user_id"] == REQUESTER and f"#{request_id}" in json.dumps(c.args),
    )
    assert "smtp_cancel" in json.dumps(own.args["view"])
    # pressing Approve in App Home (a view container, no channel) executes
    payload_home = bot.sender.press_home("smtp_approve", str(request_id), user=APPROVER_2)
    assert payload_home.status_code == 200
    _wait_status(bot, request_id, "succeeded")
    bot.slack.wait_for_call(
        "views.publish",
        lambda c: c.args["user_id"] == APPROVER_2 and "You approved" in json.dumps(c.args),
    )


def test_timed_restriction_reverts_by_itself_and_posts_in_the_thread(bot: Bot) -> None:
    bot.whm.add_account("tmr1", "timed-one.test")
    bot.whm.add_mailbox("t@timed-one.test")
    request_id, channel, ts = _request(bot, "disable acme t@timed-one.test --for 2s --reason x")
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.mailbox_state("t@timed-one.test")["suspended_outgoing"] == 1
    assert f"#{request_id}" in _reply(bot, "list acme")  # shown as in force
    ended = bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "timed restriction" in c.args["text"],
        timeout=15,
    )
    assert "enable on 1 of 1" in ended.args["text"]
    assert bot.whm.mailbox_state("t@timed-one.test")["suspended_outgoing"] == 0
    events = [
        r[0] for r in bot.query(f"SELECT event FROM audit_event WHERE request_id={request_id}")
    ]
    assert "revert_succeeded" in events


def test_enable_before_the_end_cancels_the_revert(bot: Bot) -> None:
    bot.whm.add_account("tmr2", "timed-two.test")
    bot.whm.add_mailbox("u@timed-two.test")
    timed, channel, ts = _request(bot, "disable acme u@timed-two.test --for 1h")
    bot.sender.press("smtp_approve", str(timed), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, timed, "succeeded")
    enable, channel2, ts2 = _request(bot, "enable acme u@timed-two.test")
    bot.sender.press("smtp_approve", str(enable), user=APPROVER, channel=channel2, message_ts=ts2)
    _wait_status(bot, enable, "succeeded")
    assert f"#{timed}" not in _reply(bot, "list acme")
    states = bot.query(f"SELECT kind, state FROM job WHERE request_id={timed} ORDER BY id")
    assert states == [("execute", "done"), ("revert", "cancelled")]
