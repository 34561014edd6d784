"""A resumed execution never undoes a later change: the bot is SIGKILLed while request #1
(disable) is mid-call; after a restart request #2 (enable) is approved and done while #1's
lease still runs; when it has run out (the test moves it into the past rather than wait),
#1 resumes, leaves the mailbox to #2 and says so in its thread."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import sqlalchemy as sa

from approvals import Database, TenantPolicy, Workflow
from tests.e2e.conftest import (
    APPROVER,
    BOT_TOKEN,
    REQUESTER,
    WHM_TOKEN,
    bot_env,
    config_text,
    launch,
    stop,
)
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm

LEASE_S = 300  # #1 is not resumed before the test lets its lease run out


def _until(check, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


def _request(slack: FakeSlack, sender: SlackSender, text: str) -> tuple[int, str]:
    _response, name = sender.command(text, user=REQUESTER)
    reply = slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
    ts = _until(
        lambda: next(
            (k[1] for k, m in slack.messages.items() if f"#{request_id}" in (m["text"] or "")),
            None,
        ),
        f"card of #{request_id}",
    )
    return request_id, ts


def test_a_resumed_disable_does_not_undo_a_later_enable(tmp_path: Path) -> None:
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    process = None
    db = Database(f"sqlite:///{tmp_path / 'smtp-bot.db'}")
    try:
        whm.add_account("crash", "crash.test")
        whm.add_mailbox("c@crash.test")
        config = tmp_path / "smtp-bot.yml"
        config.write_text(config_text(whm.url))
        env = bot_env(
            tmp_path, slack, config, SMTP_BOT_JOB_LEASE=str(LEASE_S), SMTP_BOT_WORKER_POLL="0.5"
        )
        process, url, _log = launch(tmp_path, env)
        sender = SlackSender(url, env["SLACK_SIGNING_SECRET"], slack.base_url + "/response/")
        first, ts1 = _request(slack, sender, "disable acme c@crash.test")
        whm.latency_s = 2.0  # the suspend call will be in flight
        sender.press(
            "smtp_approve", str(first), user=APPROVER, channel="C0APPROVALS", message_ts=ts1
        )
        _until(lambda: whm.calls_to("Email::suspend_outgoing"), "the suspend call")
        process.send_signal(signal.SIGKILL)  # mid-call
        process.wait()
        _until(lambda: whm.mailbox_state("c@crash.test")["suspended_outgoing"] == 1, "landed")
        whm.latency_s = 0.0
        process, url, _log = launch(tmp_path, env, log_name="bot2.log")
        sender = SlackSender(url, env["SLACK_SIGNING_SECRET"], slack.base_url + "/response/")
        second, ts2 = _request(slack, sender, "enable acme c@crash.test")
        sender.press(
            "smtp_approve", str(second), user=APPROVER, channel="C0APPROVALS", message_ts=ts2
        )
        wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset()))
        _until(lambda: wf.get(second).status.value == "succeeded", "#2 done")
        assert wf.get(first).status.value == "executing"  # #1's lease has not run out yet
        assert whm.mailbox_state("c@crash.test")["suspended_outgoing"] == 0
        with db.engine.begin() as conn:  # #1's dead worker's lease runs out
            expired = conn.execute(
                sa.text(
                    "UPDATE job SET lease_expires_at = '2000-01-01 00:00:00.000000' "
                    "WHERE request_id = :id AND state = 'running'"
                ),
                {"id": first},
            )
            assert expired.rowcount == 1

        _until(lambda: wf.get(first).status.is_final, "#1 resumed and finished")
        assert whm.mailbox_state("c@crash.test")["suspended_outgoing"] == 0  # #2 still wins
        assert wf.get(first).status.value == "failed"
        assert len(whm.calls_to("Email::suspend_outgoing")) == 1  # #1 did not call again
        target = wf.get(first).targets[0]
        assert target.message == f"skipped: #{second} changed it later"
        result = slack.wait_for_call(
            "chat.postMessage", lambda c: c.args.get("thread_ts") == ts1 and not c.failed
        )
        assert f"skipped: #{second} changed it later" in result.args["text"]
    finally:
        db.dispose()
        if process is not None:
            stop(process)
        slack.stop()
        whm.stop()
