"""Drift end to end: a change approved through signed Slack requests, then undone by hand on
the back end (the WHM fake, the Exchange WinRM fake); one drift pass (`smtp-bot drift-check`,
the housekeeper's pass run now) posts once in the card's thread and once in the tenant's
channel, a second pass posts nothing more, and Re-apply opens a normal request."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    APPROVER,
    BOT_TOKEN,
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
from tests.e2e.test_exchange import _exchange_request
from tests.e2e.test_walking_skeleton import _request, _wait_status
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.slack_api import FakeSlack, SlackCall
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm
from tests.fakes.winrm_host import FakeWinRMHost

# a tenant whose drift checks are off; the others check once a day, so that the running bot's
# own passes (every 15 s) never find a check due while these tests run: the pass under test is
# the one they start
QUIET = """\
  quiet:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    allow_plaintext: true
    approvers: [U0APPROVE]
    approvals_required_tenant_wide: 1
    channel: C0QUIET
    notify_approvers: false
    drift_check_interval: off
"""


@dataclass
class DriftBot:
    bot: Bot
    env: dict[str, str]
    workdir: Path

    def drift_check(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "drift-check", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )


def _config(whm_url: str, winrm_url: str) -> str:
    text = config_text(whm_url, winrm_url)
    for tenant in ("acme", "contoso"):
        text = text.replace(f"  {tenant}:\n", f"  {tenant}:\n    drift_check_interval: 1d\n", 1)
    only = f"  contoso:\n    requesters: [{REQUESTER}]\n"  # who may press Re-apply there
    return text.replace("  contoso:\n", only, 1) + QUIET.format(whm_url=whm_url)


@pytest.fixture(scope="module")
def drift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriftBot]:
    workdir = tmp_path_factory.mktemp("drift")
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    exchange = FakeWinRMHost(FakeExchangeOrg(), password=WINRM_PASSWORD).__enter__()
    config = workdir / "smtp-bot.yml"
    config.write_text(_config(whm.url, exchange.url))
    env = bot_env(workdir, slack, config)
    try:
        process, url, log_path = launch(workdir, env)
    except BaseException:
        slack.stop()
        whm.stop()
        exchange.__exit__(None, None, None)
        raise
    sender = SlackSender(url, SIGNING_SECRET, slack.base_url + "/response/")
    db_url = f"sqlite:///{workdir / 'smtp-bot.db'}"
    bot = Bot(url, process, db_url, log_path, slack, whm, sender, exchange)
    try:
        yield DriftBot(bot, env, workdir)
    finally:
        stop(process)
        slack.stop()
        whm.stop()
        exchange.__exit__(None, None, None)


def _drift_posts(bot: Bot, request_id: int) -> list[SlackCall]:
    return [
        c
        for c in bot.slack.calls_to("chat.postMessage")
        if f"request #{request_id} no longer holds" in (c.args.get("text") or "")
        or f"what request #{request_id} " in json.dumps(c.args.get("blocks") or [])
    ]


def _buttons(call: SlackCall) -> list[dict]:
    blocks = call.args["blocks"]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _passed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_whm_drift_is_posted_once_in_thread_and_channel_and_reapply_opens_a_request(
    drift: DriftBot,
) -> None:
    bot = drift.bot
    bot.whm.add_account("drift1", "drift-one.test")
    bot.whm.add_mailbox("leak@drift-one.test")
    request_id, channel, ts = _request(bot, 'disable acme leak@drift-one.test --reason "spam"')
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "succeeded")
    assert "0 drifted" in _passed(drift.drift_check())  # as applied: nothing to say
    assert _drift_posts(bot, request_id) == []

    bot.whm.add_mailbox("leak@drift-one.test", suspended_outgoing=0)  # unsuspended in WHM
    assert "1 drifted" in _passed(drift.drift_check())
    posts = _drift_posts(bot, request_id)
    assert len(posts) == 2
    (thread,) = [p for p in posts if p.args.get("thread_ts") == ts]
    (top,) = [p for p in posts if not p.args.get("thread_ts")]
    assert thread.args["channel"] == channel and top.args["channel"] == "C0APPROVALS"
    text = json.dumps(top.args["blocks"], ensure_ascii=False)
    assert "`leak@drift-one.test`" in text
    assert (
        "`leak@drift-one.test`: expected _outgoing mail suspended_, now _outgoing mail "
        "allowed_ (`suspended_outgoing 1 → 0`); last seen right <!date^"
    ) in text
    assert "changed outside the bot" in text
    assert [(b["action_id"], b["value"]) for b in _buttons(top)] == [
        ("smtp_reapply", str(request_id))
    ]
    assert _buttons(thread) == _buttons(top)
    events = bot.query(
        f"SELECT event FROM audit_event WHERE request_id={request_id} AND event LIKE 'drift%'"
    )
    assert events == [("drift_detected",)]

    assert "0 drifted" in _passed(drift.drift_check())  # still drifted: told once already
    assert len(_drift_posts(bot, request_id)) == 2

    response = bot.sender.press(
        "smtp_reapply", str(request_id), user=REQUESTER, channel="C0APPROVALS", message_ts="1.2"
    )
    assert response.status_code == 200
    reason = f"re-apply #{request_id} after drift"
    bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: not c.args.get("thread_ts") and reason in json.dumps(c.args.get("blocks") or []),
    )
    assert bot.query("SELECT count(*) FROM intake WHERE kind='reapply'") == [(1,)]  # durable
    rows = bot.query(
        f"SELECT id, verb, status, requester FROM change_request WHERE reason='{reason}'"
    )
    assert len(rows) == 1 and rows[0][1:] == ("disable", "pending", REQUESTER)
    (new_id,) = rows[0][:1]
    targets = bot.query(f"SELECT target FROM request_target WHERE request_id={new_id}")
    assert targets == [("leak@drift-one.test",)]
    told = bot.slack.wait_for_call(
        "chat.postEphemeral", lambda c: f"Request #{new_id}" in (c.args.get("text") or "")
    )
    assert told.args["user"] == REQUESTER and "waiting for approval" in told.args["text"]

    # a second press while that request is pending: the duplicate rule answers, no new card
    bot.sender.press(
        "smtp_reapply", str(request_id), user=APPROVER, channel="C0APPROVALS", message_ts="1.2"
    )
    bot.slack.wait_for_call(
        "chat.postEphemeral",
        lambda c: c.args.get("user") == APPROVER and "#" + str(new_id) in c.args.get("text", ""),
    )
    assert len(bot.query(f"SELECT id FROM change_request WHERE reason='{reason}'")) == 1


def test_off_disables_drift_checks(drift: DriftBot) -> None:
    bot = drift.bot
    bot.whm.add_account("quiet1", "quiet-one.test")
    bot.whm.add_mailbox("calm@quiet-one.test")
    response, name = bot.sender.command("disable quiet calm@quiet-one.test", user=REQUESTER)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    ts = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel="C0QUIET", message_ts=ts
    )
    _wait_status(bot, request_id, "succeeded")
    bot.whm.add_mailbox("calm@quiet-one.test", suspended_outgoing=0)
    _passed(drift.drift_check())
    assert _drift_posts(bot, request_id) == []
    assert bot.query(f"SELECT count(*) FROM drift_watch WHERE request_id={request_id}") == [(0,)]
    refused = drift.drift_check("--tenant", "quiet")
    assert refused.returncode == 3 and "Drift checks are off for quiet" in refused.stderr


def test_exchange_drift_is_posted_once_and_reapply_opens_a_request(drift: DriftBot) -> None:
    bot = drift.bot
    box = bot.exchange.org.add_mailbox("scanner@contoso.example", disabled=False)
    request_id, ts = _exchange_request(bot, "disable contoso scanner@contoso.example")
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel="C0EXCH", message_ts=ts
    )
    _wait_status(bot, request_id, "succeeded", timeout=20)
    assert box.smtp_auth_disabled is True
    box.smtp_auth_disabled = False  # Set-CASMailbox by hand in the Exchange admin center
    out = _passed(drift.drift_check("--tenant", "contoso"))
    assert "1 drifted" in out and "1 notice(s) posted" in out
    posts = _drift_posts(bot, request_id)
    assert sorted((p.args["channel"], bool(p.args.get("thread_ts"))) for p in posts) == [
        ("C0EXCH", False),
        ("C0EXCH", True),
    ]
    text = json.dumps(posts[0].args["blocks"], ensure_ascii=False)
    assert "smtp_client_authentication_disabled true → false" in text
    assert "0 drifted" in _passed(drift.drift_check("--tenant", "contoso"))
    assert len(_drift_posts(bot, request_id)) == 2
    # the presser must be allowed to request: an approver who is not a requester is refused
    bot.sender.press(
        "smtp_reapply", str(request_id), user=APPROVER, channel="C0EXCH", message_ts="1.3"
    )
    refused = bot.slack.wait_for_call(
        "chat.postEphemeral",
        lambda c: c.args.get("user") == APPROVER and "not allowed to request" in c.args["text"],
    )
    assert "contoso" in refused.args["text"]
    bot.sender.press(
        "smtp_reapply", str(request_id), user=REQUESTER, channel="C0EXCH", message_ts="1.3"
    )
    reason = f"re-apply #{request_id} after drift"
    bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: not c.args.get("thread_ts") and reason in json.dumps(c.args.get("blocks") or []),
    )
    rows = bot.query(
        f"SELECT tenant, verb, status, requester FROM change_request WHERE reason='{reason}'"
    )
    assert rows == [("contoso", "disable", "pending", REQUESTER)]
    refusals = bot.query(
        f"SELECT count(*) FROM audit_event WHERE event='refused_requester' AND actor='{APPROVER}'"
    )
    assert refusals == [(1,)]
