"""Durability: approved work survives processes killed with SIGKILL.

- Three `smtp-bot worker` processes on real PostgreSQL run 2,000 jobs against the loopback
  WHM (which counts every call); one worker is SIGKILLed mid-run. Every job is done, none is
  lost, and only jobs the dead worker held ran a second time, after their lease expired.
- The bot is SIGKILLed while a provider call is in flight; after a restart the job completes
  and Slack shows exactly one final result.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from approvals import Database, TenantPolicy, Workflow
from tests.conftest import POSTGRES_URL
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

JOBS = 2000
DOMAINS = 20


def _worker_env(config: Path, database_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
        "DATABASE_URL": database_url,
        "SMTP_BOT_CONFIG": str(config),
        "ACME_WHM_TOKEN": WHM_TOKEN,
        "CONTOSO_WINRM_PASSWORD": "unused",
        "SMTP_BOT_JOB_LEASE": "2",
        "SMTP_BOT_WORKER_THREADS": "2",
        "SMTP_BOT_WORKER_POLL": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_three_workers_2000_jobs_one_killed(postgres_schema: str, tmp_path: Path) -> None:
    whm = FakeWhm(token=WHM_TOKEN, latency_s=0.002).start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for d in range(DOMAINS):
            whm.add_account(f"acct{d}", f"d{d}.test")
        for i in range(JOBS):
            whm.add_mailbox(f"user{i}@d{i % DOMAINS}.test")
        config = tmp_path / "smtp-bot.yml"
        config.write_text(config_text(whm.url))
        url = f"{POSTGRES_URL}?options={quote(f'-csearch_path={postgres_schema}')}"
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "TRUNCATE job, audit_event, approval, request_target, change_request "
                    "RESTART IDENTITY CASCADE"
                )
            )
        wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({APPROVER})))
        for i in range(JOBS):
            view = wf.submit(
                tenant="acme",
                verb="disable",
                targets=[f"user{i}@d{i % DOMAINS}.test"],
                reason="bulk",
                requester=REQUESTER,
            )
            wf.approve(view.id, actor=APPROVER)

        env = _worker_env(config, url)
        for n in range(3):
            log = (tmp_path / f"worker{n}.log").open("wb")
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "worker"],
                    cwd=tmp_path,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

        def done() -> int:
            return wf.jobs.counts().get("done", 0)

        deadline = time.monotonic() + 600  # generous: CI machines are shared and slow
        while done() < JOBS // 3:
            assert time.monotonic() < deadline, wf.jobs.counts()
            time.sleep(0.05)
        killed_at = done()
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        while done() < JOBS:
            assert time.monotonic() < deadline, (wf.jobs.counts(), killed_at)
            time.sleep(0.2)

        assert wf.jobs.counts() == {"done": JOBS}
        assert killed_at < JOBS
        with db.engine.connect() as conn:
            statuses = {
                r[0]: r[1]
                for r in conn.execute(
                    sa.text("SELECT status, count(*) FROM change_request GROUP BY 1")
                )
            }
            attempts = {
                r[0]: r[1] for r in conn.execute(sa.text("SELECT request_id, attempts FROM job"))
            }
            resumed = {
                r[0]
                for r in conn.execute(
                    sa.text("SELECT request_id FROM audit_event WHERE event='execution_resumed'")
                )
            }
        assert statuses == {"succeeded": JOBS}
        suspends = collections.Counter(
            c.params["email"]
            for c in whm.calls
            if c.function == "uapi_cpanel" and c.params.get("cpanel.function") == "suspend_outgoing"
        )
        assert len(suspends) == JOBS  # every mailbox was changed: nothing lost
        assert all(
            whm.mailbox_state(f"user{i}@d{i % DOMAINS}.test")["suspended_outgoing"] == 1
            for i in range(JOBS)
        )
        twice = {email for email, n in suspends.items() if n > 1}
        reclaimed = {rid for rid, n in attempts.items() if n > 1}
        # Only jobs the killed worker held (2 threads) were claimed again, and only those ran
        # their provider call a second time; no job ran twice otherwise.
        assert len(reclaimed) <= 2
        assert resumed <= reclaimed
        assert len(twice) <= len(reclaimed)
        assert max(suspends.values()) <= 2
        for proc in workers[1:]:
            proc.send_signal(signal.SIGTERM)
        for proc in workers[1:]:
            assert proc.wait(timeout=40) == 0  # SIGTERM: finish in flight, exit 0
        db.dispose()
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
        whm.stop()


def test_bot_killed_mid_provider_call_finishes_after_restart(tmp_path: Path) -> None:
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    process = None
    try:
        whm.add_account("crash", "crash.test")
        whm.add_mailbox("c@crash.test")
        config = tmp_path / "smtp-bot.yml"
        config.write_text(config_text(whm.url))
        env = bot_env(tmp_path, slack, config, SMTP_BOT_JOB_LEASE="2")
        process, url, _log = launch(tmp_path, env)
        sender = SlackSender(url, env["SLACK_SIGNING_SECRET"], slack.base_url + "/response/")
        response, name = sender.command("disable acme c@crash.test", user=REQUESTER)
        reply = slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
        request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
        card = slack.wait_for_call(
            "chat.postMessage", lambda c: f"#{request_id}" in (c.args.get("text") or "")
        )
        ts = (
            card.args
            and slack.messages
            and next(
                key[1] for key, m in slack.messages.items() if f"#{request_id}" in (m["text"] or "")
            )
        )
        whm.latency_s = 3.0  # every WHM call now hangs for 3 s: the call will be in flight
        sender.press(
            "smtp_approve", str(request_id), user=APPROVER, channel="C0APPROVALS", message_ts=ts
        )
        deadline = time.monotonic() + 10
        while not whm.calls_to("Email::suspend_outgoing"):
            assert time.monotonic() < deadline, [c.function for c in whm.calls]
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)  # mid-flight
        process.wait()
        whm.latency_s = 0.0
        process, url, _log = launch(tmp_path, env, log_name="bot2.log")
        db = Database(f"sqlite:///{tmp_path / 'smtp-bot.db'}")
        deadline = time.monotonic() + 20
        while (
            Workflow(db, lambda _t: TenantPolicy(approvers=frozenset()))
            .get(request_id)
            .status.value
            != "succeeded"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert whm.mailbox_state("c@crash.test")["suspended_outgoing"] == 1
        finals = slack.wait_for(
            lambda f: any(
                c.args.get("thread_ts") == ts and not c.failed
                for c in f.calls_to("chat.postMessage")
            ),
            timeout=10,
        )
        assert finals is None
        time.sleep(1.0)  # give a duplicate the chance to appear
        results = [
            c
            for c in slack.calls_to("chat.postMessage")
            if c.args.get("thread_ts") == ts and not c.failed
        ]
        assert len(results) == 1, [r.args["text"] for r in results]
        assert "c@crash.test" in results[0].args["text"]
        db.dispose()
    finally:
        if process is not None:
            stop(process)
        slack.stop()
        whm.stop()
