"""`/smtp top` end to end: signed Slack requests, the loopback WHM's email tracking and queue,
the answer to the caller only (worst first), bad --since/--limit refused in the ack, a token
that may not read tracking, and Request disable → dialog → a normal approval card (a mailbox
for an SMTP login, the account for a script), refused for someone who may not request."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import (
    APPROVER,
    BOT_TOKEN,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    WHM_TOKEN,
    WINRM_PASSWORD,
    Bot,
    bot_env,
    config_text,
    launch,
    stop,
)
from tests.e2e.test_walking_skeleton import _card_for, _wait_status
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm
from tests.fakes.winrm_host import FakeWinRMHost

STRICT = """\
  strict:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    allow_plaintext: true
    approvers: [{approver}]
    requesters: [{requester}]
    approvals_required_tenant_wide: 1
    channel: C0STRICT
    notify_approvers: false
"""


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """The e2e bot with one more tenant whose requesters are listed (``strict``)."""
    workdir = tmp_path_factory.mktemp("bot-top")
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    exchange = FakeWinRMHost(FakeExchangeOrg(), password=WINRM_PASSWORD).__enter__()
    config = workdir / "smtp-bot.yml"
    strict = STRICT.format(whm_url=whm.url, approver=APPROVER, requester=REQUESTER)
    config.write_text(config_text(whm.url, exchange.url) + strict)
    try:
        process, url, log_path = launch(workdir, bot_env(workdir, slack, config))
    except BaseException:
        slack.stop()
        whm.stop()
        exchange.__exit__(None, None, None)
        raise
    sender = SlackSender(url, SIGNING_SECRET, slack.base_url + "/response/")
    db = f"sqlite:///{workdir / 'smtp-bot.db'}"
    try:
        yield Bot(url, process, db, log_path, slack, whm, sender, exchange)
    finally:
        stop(process)
        slack.stop()
        whm.stop()
        exchange.__exit__(None, None, None)


@pytest.fixture(scope="module", autouse=True)
def outbreak(bot: Bot) -> None:
    """A stolen password, a PHP script, and a quiet mailbox, with mail in the queue."""
    whm = bot.whm
    whm.add_account("topa", "top-a.test")
    whm.add_mailbox("spam@top-a.test")
    whm.add_mailbox("quiet@top-a.test")
    whm.add_account("topscript", "top-s.test")
    t = whm.tracking
    t.add("spam@top-a.test", 900, user="topa", ip="203.0.113.66")
    t.add("spam@top-a.test", 300, user="topa", kind="defer", ip="203.0.113.66")
    t.add("quiet@top-a.test", 4, user="topa", ip="198.51.100.4")
    t.add("topscript", 500, user="topscript", domain="top-s.test", auth="localuser")
    t.add("topscript", 60, user="topscript", domain="top-s.test", auth="localuser", kind="failure")
    t.reached_max_emails.add("top-a.test")
    whm.queue.add("spam@top-a.test", 250)
    whm.queue.add("wp@top-s.test", 40)


def _top(bot: Bot, text: str, user: str = REQUESTER) -> dict:
    response, name = bot.sender.command(text, user=user)
    assert response.status_code == 200
    assert "Reading email tracking" in response.json()["text"]
    return bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name)).args


def _rows(args: dict) -> list[dict]:
    blocks = args["blocks"]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return [b for b in blocks if b.get("block_id", "").startswith("top-")]


def test_top_answers_the_caller_only_worst_first(bot: Bot) -> None:
    posted = len(bot.slack.calls_to("chat.postMessage"))
    args = _top(bot, "top acme --since 2h --limit 5")
    assert args["response_type"] == "ephemeral"
    rows = _rows(args)
    texts = [r["text"]["text"] for r in rows]
    assert "`spam@top-a.test`" in texts[0] and "`account:topscript`" in texts[1], texts
    assert "`quiet@top-a.test`" in texts[2]
    spam, script = texts[0], texts[1]
    assert "sent *1,200*" in spam and "deferred + failed *300*" in spam
    assert "an SMTP login (`dovecot_login`)" in spam and "`203.0.113.66`" in spam
    assert "hit the hourly limit" in spam and "*250* queued now" in spam
    assert "a local script" in script and "sent *560*" in script and "*40* queued now" in script
    assert "hit the hourly limit" not in script
    buttons = [r["accessory"] for r in rows]
    assert {b["text"]["text"] for b in buttons} == {"Request disable"}
    assert [b["value"] for b in buttons[:2]] == ["acme spam@top-a.test", "acme account:topscript"]
    assert len(bot.slack.calls_to("chat.postMessage")) == posted  # nothing in any channel
    assert bot.query("SELECT COUNT(*) FROM change_request") == [(0,)]
    assert len(_rows(_top(bot, "top acme --limit 1"))) == 1


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("top acme --since 8d", "--since can be at most 7d."),
        ("top acme --since 30", "is not a duration"),
        ("top acme --since soon", "is not a duration"),
        ("top acme --limit 0", "--limit must be a number from 1 to 40."),
        ("top acme --limit 41", "--limit must be a number from 1 to 40."),
        ("top acme --limit ten", "--limit must be a number from 1 to 40."),
        ("top acme spam@top-a.test", "top takes only a tenant name"),
        ("top contoso", "has no email tracking to read"),
        ("status acme --since 1h", "--since only goes with top or usage."),
    ],
)
def test_bad_since_and_limit_are_refused_in_the_ack(bot: Bot, text: str, said: str) -> None:
    before = len(bot.whm.calls)
    response, _ = bot.sender.command(text, user=REQUESTER)
    assert response.status_code == 200
    answer = response.json()["text"]
    assert answer.startswith(":warning:") and said in answer, answer
    assert "Traceback" not in answer
    assert len(bot.whm.calls) == before  # nothing read


def test_a_token_that_may_not_read_tracking_is_told_plainly(bot: Bot) -> None:
    saved = dict(bot.whm.privileges)
    bot.whm.privileges = {"list-accts": 1, "acct-summary": 1, "cpanel-api": 1}
    try:
        args = _top(bot, "top acme")
    finally:
        bot.whm.privileges = saved
    text = args["text"]
    assert text.startswith(":warning: Could not read email tracking:"), text
    assert "may not read email tracking" in text and "Track Email" in text
    assert WHM_TOKEN not in text and "blocks" not in args


def _press_and_open(bot: Bot, value: str, user: str = REQUESTER) -> dict:
    response = bot.sender.press(
        "smtp_top_disable", value, user=user, channel="C0OPS", message_ts="1700000000.000777"
    )
    assert response.status_code == 200
    opened = bot.slack.wait_for_call(
        "views.open", lambda c: json.loads(c.args["view"]["private_metadata"])["target"] in value
    )
    return opened.args["view"]


def _request_for(bot: Bot, target: str) -> int:
    rows = bot.query(
        "SELECT r.id FROM change_request r JOIN request_target t ON t.request_id = r.id "
        f"WHERE r.verb = 'disable' AND t.target = '{target}'"
    )
    return rows[-1][0] if rows else 0


def _wait_request(bot: Bot, target: str) -> int:
    bot.slack.wait_for(lambda _s: _request_for(bot, target) > 0)
    return _request_for(bot, target)


def test_request_disable_opens_a_dialog_then_posts_a_card_for_that_address(bot: Bot) -> None:
    modal = _press_and_open(bot, "acme spam@top-a.test")
    assert modal["callback_id"] == "smtp_top_disable_modal"
    assert _request_for(bot, "spam@top-a.test") == 0  # nothing until the dialog is sent
    empty = bot.sender.submit_view(
        modal, user=REQUESTER, values={"top_reason": {"reason": {"value": "  "}}}
    )
    assert empty.json()["response_action"] == "errors"  # a reason is needed
    response = bot.sender.submit_view(
        modal, user=REQUESTER, values={"top_reason": {"reason": {"value": "stolen password"}}}
    )
    assert response.status_code == 200 and not response.content.strip(b"{} ")
    request_id = _wait_request(bot, "spam@top-a.test")
    card = _card_for(bot, request_id)
    blocks = json.dumps(card.args["blocks"])
    assert card.args["channel"] == "C0APPROVALS"
    assert "spam@top-a.test" in blocks and "stolen password" in blocks
    assert f"<@{REQUESTER}>" in blocks
    told = bot.slack.wait_for_call(
        "chat.postEphemeral", lambda c: f"Request #{request_id}" in (c.args.get("text") or "")
    )
    assert told.args["user"] == REQUESTER and "waiting for approval" in told.args["text"]
    assert "late answer" not in told.args["text"]
    # the same dialog sent again stores nothing new; a second press is a duplicate request
    bot.sender.submit_view(
        modal, user=REQUESTER, values={"top_reason": {"reason": {"value": "stolen password"}}}
    )
    again = _press_and_open(bot, "acme spam@top-a.test")
    bot.sender.submit_view(
        again, user=REQUESTER, values={"top_reason": {"reason": {"value": "again"}}}
    )
    duplicate = f"Nothing was requested: #{request_id} already asks for this"
    bot.slack.wait_for_call("chat.postEphemeral", lambda c: duplicate in (c.args.get("text") or ""))
    assert bot.query("SELECT COUNT(*) FROM request_target WHERE target = 'spam@top-a.test'") == [
        (1,)
    ]
    ts = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel="C0APPROVALS", message_ts=ts
    )
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.mailbox_state("spam@top-a.test")["suspended_outgoing"] == 1


def test_a_script_sender_is_requested_as_its_account(bot: Bot) -> None:
    modal = _press_and_open(bot, "acme account:topscript")
    assert json.loads(modal["private_metadata"])["target"] == "account:topscript"
    bot.sender.submit_view(
        modal, user=REQUESTER, values={"top_reason": {"reason": {"value": "php mailer"}}}
    )
    request_id = _wait_request(bot, "account:topscript")
    card = json.dumps(_card_for(bot, request_id).args["blocks"])
    assert "account:topscript" in card and "php mailer" in card


def test_someone_who_may_not_request_gets_no_dialog(bot: Bot) -> None:
    opened = len(bot.slack.calls_to("views.open"))
    response = bot.sender.press(
        "smtp_top_disable",
        "strict spam@top-a.test",
        user=OUTSIDER,
        channel="C0OPS",
        message_ts="1700000000.000888",
    )
    assert response.status_code == 200
    told = bot.slack.wait_for_call("chat.postEphemeral", lambda c: c.args.get("user") == OUTSIDER)
    assert "You are not allowed to request changes for strict." in told.args["text"]
    assert len(bot.slack.calls_to("views.open")) == opened


def test_a_forged_button_value_is_refused(bot: Bot) -> None:
    opened = len(bot.slack.calls_to("views.open"))
    for value in ("acme a&b@top-a.test", "acme x@top-a.test --for 90d", "../etc x@y.test"):
        bot.sender.press(
            "smtp_top_disable", value, user=REQUESTER, channel="C0OPS", message_ts="1.2"
        )
    bot.slack.wait_for(
        lambda s: (
            sum(
                1
                for c in s.calls_to("chat.postEphemeral")
                if c.args.get("user") == REQUESTER
                and (c.args.get("text") or "").startswith(":warning:")
            )
            >= 3
        )
    )
    assert len(bot.slack.calls_to("views.open")) == opened


def test_the_dialog_is_acknowledged_once_stored_before_the_request_is_made(bot: Bot) -> None:
    """Slack gives a submission 3 s: its ack must not wait for the live check or the card.
    With chat.postMessage held unanswered, the submission is acknowledged, its intake row is
    committed, and the card follows once Slack answers."""
    bot.whm.add_mailbox("slow@top-a.test")
    bot.whm.tracking.add("slow@top-a.test", 3, user="topa")
    modal = _press_and_open(bot, "acme slow@top-a.test")
    gate = bot.slack.hold("chat.postMessage")
    try:
        response = bot.sender.submit_view(
            modal, user=REQUESTER, values={"top_reason": {"reason": {"value": "slow slack"}}}
        )
        assert response.status_code == 200 and not response.content.strip(b"{} ")
        rows = bot.query(
            "SELECT kind FROM intake WHERE kind = 'top_request' "
            "AND payload LIKE '%slow@top-a.test%'"
        )
        assert rows, "the submission was acknowledged before it was stored"
    finally:
        gate.set()
    request_id = _wait_request(bot, "slow@top-a.test")
    assert "slow slack" in json.dumps(_card_for(bot, request_id).args["blocks"])
