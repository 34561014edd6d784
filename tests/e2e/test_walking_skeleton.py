"""The walking skeleton end to end: signed `/smtp` → stored request → approval card →
button press → WHM JSON API → verified result in the card's thread."""

from __future__ import annotations

import json
import re
import time

from tests.e2e.conftest import APPROVER, APPROVER_2, OUTSIDER, REQUESTER, SIGNING_SECRET, Bot


def _card_for(bot: Bot, request_id: int):
    return bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: not c.args.get("thread_ts") and f"#{request_id}" in (c.args.get("text") or ""),
    )


def _request(bot: Bot, text: str, user: str = REQUESTER) -> tuple[int, str, str]:
    """Send a change command; return (request id, card channel, card ts)."""
    response, name = bot.sender.command(text, user=user)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "waiting for approval" in reply.args["text"], reply.args
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    (ts,) = [
        row[0] for row in bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")
    ]
    return request_id, "C0APPROVALS", ts


def _status(bot: Bot, request_id: int) -> str:
    return bot.query(f"SELECT status FROM change_request WHERE id={request_id}")[0][0]


def _wait_status(bot: Bot, request_id: int, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _status(bot, request_id) != status:
        assert time.monotonic() < deadline, f"request {request_id} is {_status(bot, request_id)}"
        time.sleep(0.05)


def test_healthz_reports_ready(bot: Bot) -> None:
    import httpx

    response = httpx.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_disable_approve_executes_on_whm_and_posts_verified_result(bot: Bot) -> None:
    bot.whm.add_account("acme1", "acme-one.test")
    bot.whm.add_mailbox("spammer@acme-one.test")
    request_id, channel, ts = _request(
        bot, 'disable acme spammer@acme-one.test --reason "spam outbreak"'
    )
    card = _card_for(bot, request_id)
    assert card.args["channel"] == channel
    assert card.authorized
    card_text = json.dumps(card.args["blocks"])
    assert "spammer@acme-one.test" in card_text and "spam outbreak" in card_text
    assert f"<@{REQUESTER}>" in card_text
    values = [
        e["value"] for b in card.args["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert values == [str(request_id)] * 3  # approve, deny, cancel: only the ID
    assert bot.whm.mailbox_state("spammer@acme-one.test")["suspended_outgoing"] == 0

    response = bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts
    )
    assert response.status_code == 200
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.mailbox_state("spammer@acme-one.test")["suspended_outgoing"] == 1
    result = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    assert "spammer@acme-one.test" in result.args["text"]
    assert "suspended" in result.args["text"].lower()
    updates = [c for c in bot.slack.calls_to("chat.update") if c.args["ts"] == ts]
    assert updates and "Done" in json.dumps(updates[-1].args["blocks"])
    assert all(b["type"] != "actions" for b in updates[-1].args["blocks"])
    suspends = [
        c
        for c in bot.whm.calls
        if c.function == "uapi_cpanel" and c.params.get("cpanel.function") == "suspend_outgoing"
    ]
    assert len(suspends) == 1


def test_status_reads_live_state_without_approval(bot: Bot) -> None:
    bot.whm.add_account("acme2", "acme-two.test")
    bot.whm.add_mailbox("quiet@acme-two.test")
    response, name = bot.sender.command("status acme quiet@acme-two.test", user=OUTSIDER)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "quiet@acme-two.test" in reply.args["text"]
    assert reply.args.get("response_type") == "ephemeral"
    assert bot.query("SELECT count(*) FROM change_request WHERE tenant='acme'")  # table readable


def test_forged_and_stale_signatures_get_401_and_store_nothing(bot: Bot) -> None:
    before = bot.query("SELECT count(*) FROM audit_event")[0][0]
    body, _ = bot.sender.command_body("disable acme a@acme-one.test", user=REQUESTER)
    forged = bot.sender._post(body, signature="v0=" + "0" * 64)
    assert forged.status_code == 401
    stale = bot.sender._post(body, timestamp=int(time.time()) - 6 * 60)
    assert stale.status_code == 401
    wrong_secret = type(bot.sender)(bot.url, SIGNING_SECRET + "x", bot.sender.response_base)
    response, _ = wrong_secret.command("disable acme a@acme-one.test", user=REQUESTER)
    assert response.status_code == 401
    assert bot.query("SELECT count(*) FROM audit_event")[0][0] == before


def test_self_approval_and_non_approver_are_refused(bot: Bot) -> None:
    bot.whm.add_account("acme3", "acme-three.test")
    bot.whm.add_mailbox("x@acme-three.test")
    request_id, channel, ts = _request(bot, "disable acme x@acme-three.test --reason self test")
    for user in (REQUESTER, OUTSIDER):
        bot.sender.press("smtp_approve", str(request_id), user=user, channel=channel, message_ts=ts)
        refusal = bot.slack.wait_for_call(
            "chat.postEphemeral", lambda c, u=user: c.args.get("user") == u
        )
        assert "approve" in refusal.args["text"] or "approver" in refusal.args["text"]
    time.sleep(0.3)
    assert _status(bot, request_id) == "pending"
    assert bot.whm.mailbox_state("x@acme-three.test")["suspended_outgoing"] == 0
    events = [
        r[0] for r in bot.query(f"SELECT event FROM audit_event WHERE request_id={request_id}")
    ]
    assert events.count("refused_approve") == 2


def test_concurrent_and_replayed_clicks_execute_once(bot: Bot) -> None:
    import concurrent.futures

    bot.whm.add_account("acme4", "acme-four.test")
    bot.whm.add_mailbox("race@acme-four.test")
    request_id, channel, ts = _request(bot, "disable acme race@acme-four.test")
    presses = [(APPROVER, i) for i in range(4)] + [(APPROVER_2, i) for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda p: (
                    bot.sender.press(
                        "smtp_approve", str(request_id), user=p[0], channel=channel, message_ts=ts
                    ).status_code
                ),
                presses,
            )
        )
    assert codes == [200] * 8
    _wait_status(bot, request_id, "succeeded")
    time.sleep(0.3)
    suspends = [
        c
        for c in bot.whm.calls
        if c.function == "uapi_cpanel"
        and c.params.get("cpanel.function") == "suspend_outgoing"
        and c.params.get("email") == "race@acme-four.test"
    ]
    assert len(suspends) == 1
    # a replay of the same signed click, long after, changes nothing
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    time.sleep(0.3)
    started = bot.query(
        f"SELECT count(*) FROM audit_event WHERE request_id={request_id} "
        "AND event='execution_started'"
    )
    assert started == [(1,)]


def test_deny_with_reason_updates_card_and_tells_requester(bot: Bot) -> None:
    bot.whm.add_account("acme5", "acme-five.test")
    bot.whm.add_mailbox("keep@acme-five.test")
    request_id, channel, ts = _request(bot, "disable acme keep@acme-five.test")
    bot.sender.press("smtp_deny", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    opened = bot.slack.wait_for_call(
        "views.open", lambda c: c.args["view"].get("private_metadata") == str(request_id)
    )
    assert _status(bot, request_id) == "pending"  # nothing decided until the dialog is sent
    modal = opened.args["view"]
    response = bot.sender.submit_view(
        modal,
        user=APPROVER,
        values={"deny_reason": {"reason": {"type": "plain_text_input", "value": "false alarm"}}},
    )
    assert response.status_code == 200
    _wait_status(bot, request_id, "denied")
    note = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    assert f"<@{REQUESTER}>" in note.args["text"] and "denied" in note.args["text"]
    assert "false alarm" in note.args["text"]
    # submitting the same dialog again is refused inside the dialog
    again = bot.sender.submit_view(modal, user=APPROVER, values={})
    assert again.json()["response_action"] == "errors"
    assert bot.whm.mailbox_state("keep@acme-five.test")["suspended_outgoing"] == 0
    update = [c for c in bot.slack.calls_to("chat.update") if c.args["ts"] == ts][-1]
    assert "Denied" in json.dumps(update.args["blocks"])


def test_a_replayed_signed_command_is_carried_out_once(bot: Bot) -> None:
    """The same signed body twice inside Slack's 5-minute window: both acknowledged, one
    request, one card, one answer (the intake table's dedupe key is the trigger_id)."""
    bot.whm.add_account("acme1", "acme-one.test")
    bot.whm.add_mailbox("replay@acme-one.test")
    before = bot.query("SELECT count(*) FROM change_request")[0][0]
    body, name = bot.sender.command_body("disable acme replay@acme-one.test", user=REQUESTER)
    stamp = int(time.time())
    first = bot.sender._post(body, timestamp=stamp)
    again = bot.sender._post(body, timestamp=stamp)
    assert (first.status_code, again.status_code) == (200, 200)
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "waiting for approval" in reply.args["text"], reply.args
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    _card_for(bot, request_id)
    time.sleep(1.0)  # room for a second request, card or answer to appear if one were coming
    assert bot.query("SELECT count(*) FROM change_request")[0][0] == before + 1
    answers = [c for c in bot.slack.calls_to("response_url") if c.path.endswith("/" + name)]
    assert len(answers) == 1
    cards = [
        c
        for c in bot.slack.calls_to("chat.postMessage")
        if not c.args.get("thread_ts") and re.search(rf"#{request_id}\b", c.args.get("text") or "")
    ]
    assert len(cards) == 1


def test_a_denial_is_acknowledged_before_its_card_is_redrawn(bot: Bot) -> None:
    """Slack gives up on an ack after 3 s: the dialog's ack must not wait for chat.update.
    With chat.update held unanswered, the submission is still acknowledged, and the denial
    is already recorded; the card is redrawn once Slack answers."""
    bot.whm.add_account("acme6", "acme-six.test")
    bot.whm.add_mailbox("slow@acme-six.test")
    request_id, channel, ts = _request(bot, "disable acme slow@acme-six.test")
    bot.sender.press("smtp_deny", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    opened = bot.slack.wait_for_call(
        "views.open", lambda c: c.args["view"].get("private_metadata") == str(request_id)
    )
    gate = bot.slack.hold("chat.update")
    try:
        response = bot.sender.submit_view(
            opened.args["view"],
            user=APPROVER,
            values={"deny_reason": {"reason": {"type": "plain_text_input", "value": "slow"}}},
        )
        assert response.status_code == 200
        # a held call is recorded only once it is let through: none may have been yet
        redrawn = [c for c in bot.slack.calls_to("chat.update") if c.args["ts"] == ts]
        assert redrawn == [], "the ack waited for chat.update"
        assert _status(bot, request_id) == "denied"
    finally:
        gate.set()
    bot.slack.wait_for_call("chat.update", lambda c: c.args["ts"] == ts)
