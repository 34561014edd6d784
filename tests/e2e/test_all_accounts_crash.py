"""`disable --all-accounts` survives a crash: the bot (its whole process group) is SIGKILLed
while the accounts are being suspended; the accounts and each one's state before were stored
before the first change, so the resumed run does not list them again (the server would now
say the ones it had suspended were "suspended before"), finishes, and the matching enable
lifts exactly the accounts the disable suspended."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import sqlalchemy as sa

from approvals import Database, TenantPolicy, Workflow
from tests.e2e.conftest import (
    APPROVER,
    APPROVER_2,
    BOT_TOKEN,
    WHM_TOKEN,
    bot_env,
    config_text,
    launch,
    stop,
)
from tests.e2e.test_crash_resume import _request, _until
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm

USERS = [f"acct{i:02d}" for i in range(30)]
BEFORE = {f"account:{u}" for u in USERS[:5]}


def _approve(slack: FakeSlack, sender: SlackSender, request_id: int, ts: str) -> None:
    for user in (APPROVER, APPROVER_2):
        sender.press(
            "smtp_approve", str(request_id), user=user, channel="C0APPROVALS", message_ts=ts
        )
        _until(
            lambda u=user: any(
                f"<@{u}>" in json.dumps(c.args.get("blocks"))
                for c in slack.calls_to("chat.update")
                if c.args.get("ts") == ts
            ),
            f"{user}'s approval on the card",
        )


def _rows(db: Database, request_id: int) -> list[tuple[str, str, dict]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT target, outcome, state FROM request_target WHERE request_id = :id"),
            {"id": request_id},
        )
        return [(t, o, json.loads(s) if s else {}) for t, o, s in rows]


def test_a_crash_mid_way_keeps_the_state_before_and_the_resume_uses_it(tmp_path: Path) -> None:
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    db = Database(f"sqlite:///{tmp_path / 'smtp-bot.db'}")
    process = None
    try:
        for user in USERS:
            whm.add_account(user, f"{user}.test")
        for user in USERS[:5]:
            whm.set_account_state(user, outgoing_mail_suspended=1)
        config = tmp_path / "smtp-bot.yml"
        config.write_text(config_text(whm.url))
        env = bot_env(tmp_path, slack, config, SMTP_BOT_JOB_LEASE="300", SMTP_BOT_WORKER_POLL="0.5")
        process, url, _log = launch(tmp_path, env, new_session=True)
        sender = SlackSender(url, env["SLACK_SIGNING_SECRET"], slack.base_url + "/response/")
        disable, ts = _request(slack, sender, "disable acme --all-accounts --reason outbreak")
        whm.latency_s = 0.4  # the suspensions will be in flight
        _approve(slack, sender, disable, ts)
        _until(lambda: len(whm.calls_to("suspend_outgoing_email")) >= 3, "some suspensions")
        os.killpg(process.pid, signal.SIGKILL)  # the bot and its worker, mid-way
        process.wait()
        process = None
        _until(  # the calls in flight land: changes no result of the bot records
            lambda: sum(whm.account_state(u)["outgoing_mail_suspended"] for u in USERS) > 5,
            "the suspensions in flight landed",
        )

        rows = _rows(db, disable)  # stored before the first change, and still there
        assert len(rows) == 30
        assert {t for t, _o, s in rows if s.get("left_as_it_was")} == BEFORE
        pending = [s for _t, o, s in rows if o == "pending"]
        assert pending and all(s["before"]["outgoing_mail_suspended"] == 0 for s in pending)
        listed = len(whm.calls_to("listaccts"))  # at the request, and once at execution

        whm.latency_s = 0.0
        with db.engine.begin() as conn:  # the dead worker's lease runs out
            conn.execute(
                sa.text(
                    "UPDATE job SET lease_expires_at = '2000-01-01 00:00:00.000000' "
                    "WHERE request_id = :id AND state = 'running'"
                ),
                {"id": disable},
            )
        process, url, _log = launch(tmp_path, env, log_name="bot2.log", new_session=True)
        sender = SlackSender(url, env["SLACK_SIGNING_SECRET"], slack.base_url + "/response/")
        wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset()))
        _until(lambda: wf.get(disable).status.is_final, "the resumed disable", timeout=60)
        assert wf.get(disable).status.value == "succeeded"
        assert len(whm.calls_to("listaccts")) == listed  # not listed again
        assert {t for t, _o, s in _rows(db, disable) if s.get("left_as_it_was")} == BEFORE
        assert all(whm.account_state(u)["outgoing_mail_suspended"] for u in USERS)

        enable, ts2 = _request(slack, sender, "enable acme --all-accounts")
        _approve(slack, sender, enable, ts2)
        _until(lambda: wf.get(enable).status.is_final, "the enable", timeout=60)
        assert wf.get(enable).status.value == "succeeded"
        still = {f"account:{u}" for u in USERS if whm.account_state(u)["outgoing_mail_suspended"]}
        assert still == BEFORE  # the 25 lifted, crash or not; the 5 stay suspended
    finally:
        db.dispose()
        if process is not None:
            os.killpg(process.pid, signal.SIGTERM)
            stop(process)
        slack.stop()
        whm.stop()
