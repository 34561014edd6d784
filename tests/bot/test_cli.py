"""The break-glass CLI and the audit export, driven through ``bot.cli.main`` in-process against
a real SQLite file, a loopback WHM and a loopback Slack Web API."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from approvals import Database
from bot.cli.main import main
from bot.config.schema import load_config
from bot.config.settings import Settings
from bot.running.executor import Executor
from bot.runtime import build_runtime
from tests.fakes.slack_api import FakeSlack
from tests.fakes.whm import FakeWhm

WHM_TOKEN = "CLITESTWHMTOKEN7Q2Z"
BOT_TOKEN = "xoxb-cli-test-token-5511"
CHANNEL = "C0APPROVALS"
SPAMMER = "spammer@acme.test"

CONFIG = """\
tenants:
  acme:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    approvers: [U0APPROVER]
    approvals_required_tenant_wide: 1
    allow_plaintext: true
    cli_can_approve: true
    channel: {channel}
  beta:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    approvers: [U0APPROVER]
    approvals_required_tenant_wide: 1
    allow_plaintext: true
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    """One test's world: the fakes, the config file, the database and a way to run commands."""

    whm: FakeWhm
    slack: FakeSlack
    config: Path
    db_url: str
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def run(self, *argv: str, user: str = "alice") -> Result:
        # the CLI names its user from the real user ID; play another OS user in-process
        self.monkeypatch.setattr(
            "bot.cli.breakglass.pwd.getpwuid", lambda _uid: SimpleNamespace(pw_name=user)
        )
        code = main(list(argv))
        captured = self.capsys.readouterr()
        for secret in (WHM_TOKEN, BOT_TOKEN):
            assert secret not in captured.out + captured.err
        return Result(code, captured.out, captured.err)

    def request(self, *argv: str, user: str = "alice") -> int:
        result = self.run("request", *argv, user=user)
        assert result.code == 0, result
        match = re.search(r"Request #(\d+) stored", result.out)
        assert match, result.out
        return int(match.group(1))

    def query(self, sql: str, **params: object) -> list[tuple]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params)]
        finally:
            engine.dispose()

    def request_row(self, request_id: int) -> dict[str, object]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    sa.text("SELECT * FROM change_request WHERE id = :id"), {"id": request_id}
                ).one()
                return dict(row._mapping)
        finally:
            engine.dispose()

    def audit(self, request_id: int) -> list[tuple]:
        return self.query(
            "SELECT event, actor, detail FROM audit_event WHERE request_id = :id ORDER BY id",
            id=request_id,
        )

    def slack_off(self) -> None:
        self.monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)


@pytest.fixture
def cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cli]:
    whm = FakeWhm(token=WHM_TOKEN).start()
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm.add_account("acme1", "acme.test")
    for local in ("spammer", "one", "two", "three"):
        whm.add_mailbox(f"{local}@acme.test")
    whm.add_account("beta1", "beta.test")
    whm.add_mailbox("x@beta.test")
    config = tmp_path / "smtp-bot.yml"
    config.write_text(CONFIG.format(whm_url=whm.url, channel=CHANNEL))
    db_url = f"sqlite:///{tmp_path / 'smtp-bot.db'}"
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SMTP_BOT_CONFIG", str(config))
    monkeypatch.setenv("ACME_WHM_TOKEN", WHM_TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    env = Cli(whm, slack, config, db_url, capsys, monkeypatch)
    upgraded = env.run("db", "upgrade")
    assert upgraded.code == 0 and "database at migration" in upgraded.out
    try:
        yield env
    finally:
        whm.stop()
        # FakeSlack's shutdown waits out a 0.5 s poll; nothing depends on it finishing.
        threading.Thread(target=slack.stop, daemon=True).start()


def _card(slack: FakeSlack, request_id: int):
    cards = [
        c
        for c in slack.calls_to("chat.postMessage")
        if not c.args.get("thread_ts")
        and c.args.get("blocks")  # a card, not the approvers' direct message
        and f"#{request_id}" in (c.args.get("text") or "")
    ]
    assert len(cards) == 1, [c.args for c in slack.calls]
    return cards[0]


# --- request → approve --------------------------------------------------------------------


def test_request_and_cli_approve_execute_on_whm_with_cli_actors(cli: Cli) -> None:
    request = cli.run("request", "disable", "acme", SPAMMER, "--reason", "spam outbreak")
    assert request.code == 0, request
    request_id = int(re.search(r"Request #(\d+) stored", request.out).group(1))
    assert f"Approval card posted in Slack channel {CHANNEL}" in request.out
    card = _card(cli.slack, request_id)
    assert card.args["channel"] == CHANNEL and card.authorized
    assert "`cli:alice`" in json.dumps(card.args["blocks"])
    assert cli.whm.mailbox_state(SPAMMER)["suspended_outgoing"] == 0

    approve = cli.run("approve", str(request_id), user="bob")

    assert approve.code == 0, approve
    assert cli.whm.mailbox_state(SPAMMER)["suspended_outgoing"] == 1
    assert f"Request #{request_id} succeeded: 1 of 1 target(s) done." in approve.out
    (line,) = [x for x in approve.out.splitlines() if SPAMMER in x]
    assert line.split()[0] == "OK"
    assert "suspended_outgoing=1" in line and "verified=True" in line
    assert "Slack card updated." in approve.out
    ts = cli.request_row(request_id)["card_ref"]
    updates = [c for c in cli.slack.calls_to("chat.update") if c.args["ts"] == ts]
    assert updates and "Done" in json.dumps(updates[-1].args["blocks"])
    replies = [c for c in cli.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]
    assert len(replies) == 1 and SPAMMER in replies[0].args["text"]
    events = [(event, actor) for event, actor, _ in cli.audit(request_id)]
    assert events == [
        ("requested", "cli:alice"),
        ("approved", "cli:bob"),
        ("status_approved", "cli:bob"),
        ("execution_started", "system"),
        ("target_succeeded", "system"),
        ("succeeded", "system"),
    ]


def test_approve_refused_when_tenant_does_not_accept_cli_approvals(cli: Cli) -> None:
    request = cli.run("request", "disable", "beta", "x@beta.test")
    assert request.code == 0, request
    request_id = int(re.search(r"Request #(\d+) stored", request.out).group(1))
    assert "No approval card in Slack: beta has no `channel`" in request.out
    assert "beta does not accept CLI approvals (cli_can_approve: false)" in request.out
    assert f"smtp-bot card {request_id} --channel C…" in request.out

    approve = cli.run("approve", str(request_id), user="bob")

    assert approve.code == 3
    assert approve.out == ""
    assert approve.err.strip() == "smtp-bot: refused: You are not an approver for beta."
    assert cli.whm.mailbox_state("x@beta.test")["suspended_outgoing"] == 0
    assert cli.whm.calls_to("Email::suspend_outgoing") == []
    assert cli.request_row(request_id)["status"] == "pending"
    event, actor, detail = cli.audit(request_id)[-1]
    assert (event, actor, json.loads(detail)) == (
        "refused_approve",
        "cli:bob",
        {"reason": "not_an_approver"},
    )

    # the way out for such a tenant: a card, so that its approvers decide in Slack
    card = cli.run("card", str(request_id), "--channel", "C0BETA")
    assert card.code == 0 and "Approval card posted in Slack channel C0BETA." in card.out
    assert _card(cli.slack, request_id).args["channel"] == "C0BETA"
    with pytest.raises(SystemExit) as exit_:
        main(["card", str(request_id), "--channel", "#general"])
    assert exit_.value.code == 2 and "not a Slack channel ID" in cli.capsys.readouterr().err


def test_self_approval_refused(cli: Cli) -> None:
    request_id = cli.request("disable", "acme", SPAMMER, user="alice")

    approve = cli.run("approve", str(request_id), user="alice")

    assert approve.code == 3
    assert "own request" in approve.err and len(approve.err.strip().splitlines()) == 1
    assert cli.request_row(request_id)["status"] == "pending"
    assert cli.whm.mailbox_state(SPAMMER)["suspended_outgoing"] == 0
    event, actor, detail = cli.audit(request_id)[-1]
    assert (event, actor, json.loads(detail)["reason"]) == (
        "refused_approve",
        "cli:alice",
        "self_approval",
    )


def test_failed_target_exits_4_and_prints_the_failure(cli: Cli) -> None:
    request_id = cli.request("disable", "acme", SPAMMER, "one@acme.test")
    cli.whm.fail_next("Email::suspend_outgoing", "uapi_status0")

    approve = cli.run("approve", str(request_id), user="bob")

    assert approve.code == 4, approve
    assert f"Request #{request_id} failed: 1 of 2 target(s) done." in approve.out
    marks = sorted(line.split()[0] for line in approve.out.splitlines() if "@acme.test" in line)
    assert marks == ["FAILED", "OK"]


def test_timed_request_prints_when_the_bot_undoes_it(cli: Cli) -> None:
    request = cli.run("request", "disable", "acme", SPAMMER, "--for", "2h", "--reason", "burst")
    assert request.code == 0, request
    assert "undone (enable) automatically after 2h." in request.out
    request_id = int(re.search(r"Request #(\d+) stored", request.out).group(1))
    assert cli.request_row(request_id)["reason"] == "burst"

    approve = cli.run("approve", str(request_id), user="bob")

    assert approve.code == 0, approve
    assert re.search(
        r"The running bot undoes it \(enable\) at \d{4}-\d\d-\d\d \d\d:\d\d UTC", approve.out
    )
    bad = cli.run("request", "enable", "acme", SPAMMER, "--for", "2h")
    assert bad.code == 2 and "--for only goes with disable, hold or set" in bad.err


def test_approve_waits_for_the_bots_worker_when_it_takes_the_job(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = cli.request("disable", "acme", SPAMMER)
    real_run = Executor.run
    threads: list[threading.Thread] = []

    def bots_worker_takes_it(self: Executor, rid: int, *, worker: str = "inline") -> bool:
        def later() -> None:
            time.sleep(0.3)
            assert real_run(self, rid, worker="bot-worker")

        threads.append(threading.Thread(target=later))
        threads[0].start()
        return False

    monkeypatch.setattr(Executor, "run", bots_worker_takes_it)
    approve = cli.run("approve", str(request_id), user="bob")
    threads[0].join(5)

    assert approve.code == 0, approve
    assert "The running bot's worker took the job; waiting for its results" in approve.out
    assert f"Request #{request_id} succeeded: 1 of 1 target(s) done." in approve.out
    assert cli.whm.mailbox_state(SPAMMER)["suspended_outgoing"] == 1


# --- deny, cancel, list -------------------------------------------------------------------


def test_deny_with_reason_updates_card_and_closes_the_request(cli: Cli) -> None:
    request_id = cli.request("disable", "acme", SPAMMER)
    ts = cli.request_row(request_id)["card_ref"]

    deny = cli.run("deny", str(request_id), "--reason", "false alarm", user="bob")

    assert deny.code == 0, deny
    assert f"Request #{request_id} denied by cli:bob. Reason: false alarm" in deny.out
    row = cli.request_row(request_id)
    assert (row["status"], row["decided_by"], row["decision_note"]) == (
        "denied",
        "cli:bob",
        "false alarm",
    )
    update = [c for c in cli.slack.calls_to("chat.update") if c.args["ts"] == ts][-1]
    assert "false alarm" in json.dumps(update.args["blocks"])
    assert any(c.args.get("thread_ts") == ts for c in cli.slack.calls_to("chat.postMessage"))
    event, actor, detail = cli.audit(request_id)[-1]
    assert (event, actor, json.loads(detail)) == ("denied", "cli:bob", {"note": "false alarm"})

    again = cli.run("approve", str(request_id), user="carol")
    assert again.code == 3 and "has already been denied" in again.err
    assert cli.whm.mailbox_state(SPAMMER)["suspended_outgoing"] == 0


def test_cancel_only_by_the_requester(cli: Cli) -> None:
    request_id = cli.request("disable", "acme", SPAMMER, user="alice")

    other = cli.run("cancel", str(request_id), user="bob")
    assert other.code == 3 and "Only the requester" in other.err
    own = cli.run("cancel", str(request_id), user="alice")

    assert own.code == 0 and f"Request #{request_id} cancelled." in own.out
    assert cli.request_row(request_id)["status"] == "cancelled"
    assert [e[:2] for e in cli.audit(request_id)[-2:]] == [
        ("refused_cancel", "cli:bob"),
        ("cancelled", "cli:alice"),
    ]


def test_list_shows_pending_requests_with_summarised_targets(cli: Cli) -> None:
    assert cli.run("list").out.strip() == "No pending requests."
    many = ("spammer@acme.test", "one@acme.test", "two@acme.test", "three@acme.test")
    done = cli.request("disable", "acme", SPAMMER, user="bob")  # decided before `first`:
    assert cli.run("approve", str(done), user="carol").code == 0  # pending ones may not overlap
    first = cli.request("hold", "acme", *many, user="alice")
    second = cli.request("disable", "beta", "x@beta.test", user="bob")

    listing = cli.run("list")

    assert listing.code == 0
    header, *rows = listing.out.strip().splitlines()
    assert header.split() == ["ID", "TENANT", "VERB", "TARGETS", "REQUESTER", "AGE", "APPROVALS"]
    assert [r.split()[0] for r in rows] == [f"#{first}", f"#{second}"]
    assert "spammer@acme.test, one@acme.test, two@acme.test +1 more" in rows[0]
    assert re.search(r"cli:alice\s+\d+s\s+0 of 1$", rows[0]), rows[0]
    assert re.search(r"#\d+\s+beta\s+disable\s+x@beta\.test\s+cli:bob\s+\d+s\s+0 of 1$", rows[1])
    only_beta = cli.run("list", "--tenant", "beta").out.strip().splitlines()
    assert [r.split()[0] for r in only_beta[1:]] == [f"#{second}"]
    unknown = cli.run("list", "--tenant", "nope")
    assert unknown.code == 3 and "There is no tenant" in unknown.err


# --- Slack down or not configured ---------------------------------------------------------


def test_slack_down_request_and_approve_still_work_and_sync_catches_up(cli: Cli) -> None:
    carded = cli.request("disable", "acme", SPAMMER)
    ts = cli.request_row(carded)["card_ref"]
    assert ts
    cli.slack.stop()

    down = cli.run("request", "disable", "acme", "one@acme.test")
    assert down.code == 0, down
    uncarded = int(re.search(r"Request #(\d+) stored", down.out).group(1))
    assert "No approval card in Slack: Slack is unreachable" in down.out
    assert f"smtp-bot approve {uncarded}" in down.out
    approve = cli.run("approve", str(carded), user="bob")
    assert approve.code == 0, approve
    assert cli.whm.mailbox_state(SPAMMER)["suspended_outgoing"] == 1
    assert "Slack card NOT updated (Slack is unreachable" in approve.out
    assert "Result NOT posted" in approve.out
    row = cli.request_row(carded)
    assert row["status"] == "succeeded"
    assert row["card_revision"] < row["revision"] and not row["result_posted"]
    approve_uncarded = cli.run("approve", str(uncarded), user="bob")
    assert approve_uncarded.code == 0 and "No approval card in Slack" in approve_uncarded.out
    assert cli.whm.mailbox_state("one@acme.test")["suspended_outgoing"] == 1

    # the failed update backs off (1 s for Slack unreachable): let that time pass
    from approvals.models import ChangeRequest

    past = Database(cli.db_url)
    with past.transaction() as s:
        s.execute(sa.update(ChangeRequest).values(delivery_retry_at=None))
    past.dispose()
    with FakeSlack(token=BOT_TOKEN) as back:  # Slack is back (at the configured URL)
        back.messages.update(cli.slack.messages)
        cli.monkeypatch.setenv("SLACK_API_URL", back.api_url)
        runtime = build_runtime(Settings(), load_config(cli.config), Database(cli.db_url))
        try:
            assert runtime.cards.sync() == 2
        finally:
            runtime.close()
        update = back.wait_for_call("chat.update", lambda c: c.args["ts"] == ts)
        assert "Done" in json.dumps(update.args["blocks"])
        reply = back.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
        assert SPAMMER in reply.args["text"]
    row = cli.request_row(carded)
    assert row["card_revision"] == row["revision"] and row["result_posted"]


def test_slack_not_configured_then_card_posts_it_later(cli: Cli) -> None:
    cli.slack_off()
    request = cli.run("request", "disable", "acme", SPAMMER, "--reason", "outbreak")
    assert request.code == 0, request
    request_id = int(re.search(r"Request #(\d+) stored", request.out).group(1))
    assert "Slack is not configured (SLACK_BOT_TOKEN is not set)" in request.out
    assert f"Someone else approves it with: smtp-bot approve {request_id}" in request.out
    assert f"smtp-bot card {request_id}\n" in request.out
    assert cli.slack.calls == []

    cli.monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    card = cli.run("card", str(request_id))
    assert card.code == 0 and f"Approval card posted in Slack channel {CHANNEL}" in card.out
    assert _card(cli.slack, request_id).args["channel"] == CHANNEL
    assert cli.request_row(request_id)["card_ref"]
    again = cli.run("card", str(request_id))
    assert again.code == 0 and "already has a card; redrawn." in again.out
    assert len(cli.slack.calls_to("chat.update")) == 1


def test_slack_not_configured_approve_executes(cli: Cli) -> None:
    cli.slack_off()
    request_id = cli.request("disable", "acme", SPAMMER)

    approve = cli.run("approve", str(request_id), user="bob")

    assert approve.code == 0, approve
    assert cli.whm.mailbox_state(SPAMMER)["suspended_outgoing"] == 1
    assert "No approval card in Slack for this request." in approve.out
    assert cli.slack.calls == []


# --- audit export -------------------------------------------------------------------------


def _jsonl(cli: Cli, *extra: str) -> list[dict]:
    result = cli.run("audit", "export", *extra)
    assert result.code == 0, result
    return [json.loads(line) for line in result.out.splitlines()]


def test_audit_export_jsonl_csv_and_since(cli: Cli, tmp_path: Path) -> None:
    first = cli.request("disable", "acme", SPAMMER, "--reason", 'spam, "quoted"')
    assert cli.run("deny", str(first), "--reason", "no", user="bob").code == 0
    second = cli.request("hold", "acme", "one@acme.test")

    events = _jsonl(cli)

    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    fields = {"id", "at", "event", "actor", "tenant", "request_id", "target", "before", "after"}
    assert all(set(e) == fields | {"detail"} for e in events)
    mine = [(e["event"], e["actor"], e["request_id"]) for e in events]
    assert mine == [
        ("requested", "cli:alice", first),
        ("denied", "cli:bob", first),
        ("requested", "cli:alice", second),
    ]
    assert json.loads(events[0]["detail"])["reason"] == 'spam, "quoted"'

    out_file = tmp_path / "audit.csv"
    result = cli.run("audit", "export", "--format", "csv", "--output", str(out_file))
    assert result.code == 0 and result.out == ""
    assert f"wrote 3 audit event(s) to {out_file}" in result.err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text(), newline="")))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in events]
    assert [r["detail"] for r in rows] == [e["detail"] for e in events]
    assert [r["at"] for r in rows] == [e["at"] for e in events]

    boundary = events[1]["at"]  # aware ISO datetime
    assert [e["id"] for e in _jsonl(cli, "--since", boundary)] == [e["id"] for e in events[1:]]
    naive = boundary.removesuffix("+00:00")  # no zone: read as UTC
    assert [e["id"] for e in _jsonl(cli, "--since", naive)] == [e["id"] for e in events[1:]]
    assert _jsonl(cli, "--since", "2000-01-01") == events
    assert _jsonl(cli, "--since", "2999-01-01") == []


def test_audit_export_rejects_a_bad_date(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "export", "--since", "yesterday"])
    assert exit_.value.code == 2
    assert "not an ISO date or datetime" in cli.capsys.readouterr().err


# --- errors and help ----------------------------------------------------------------------


def test_bad_input_is_one_line_with_the_right_exit_status(cli: Cli, tmp_path: Path) -> None:
    bad_target = cli.run("request", "disable", "acme", "not-an-address@")
    assert bad_target.code == 2 and "not a valid email address" in bad_target.err
    missing = cli.run("request", "disable", "acme", "nobody@acme.test")
    assert missing.code == 3 and missing.err.startswith("smtp-bot: refused: Nothing was requested")
    unknown = cli.run("request", "disable", "nope", SPAMMER)
    assert unknown.code == 3 and "There is no tenant" in unknown.err
    refused = cli.query("SELECT tenant, actor FROM audit_event WHERE event = 'refused_input'")
    assert refused == [("acme", "cli:alice"), ("acme", "cli:alice"), (None, "cli:alice")]
    no_request = cli.run("approve", "999", user="bob")
    assert no_request.code == 3 and "There is no request #999." in no_request.err

    cli.monkeypatch.setenv("SMTP_BOT_CONFIG", str(tmp_path / "missing.yml"))
    no_config = cli.run("list")
    assert no_config.code == 2 and no_config.err.startswith("smtp-bot: ")
    assert len(no_config.err.strip().splitlines()) == 1 and "Traceback" not in no_config.err

    absent = tmp_path / "absent.db"
    cli.monkeypatch.setenv("DATABASE_URL", f"sqlite:///{absent}")
    no_db = cli.run("audit", "export")
    assert no_db.code == 2 and "no database at" in no_db.err
    assert not absent.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["request"],
        ["approve"],
        ["deny"],
        ["cancel"],
        ["list"],
        ["card"],
        ["audit", "export"],
        [],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: smtp-bot")
    if argv[:1] != ["audit"]:
        assert "3  refused" in text and "2  usage, config or environment problem" in text


def test_the_cli_user_cannot_be_spoofed_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import pwd

    from bot.cli.breakglass import cli_actor

    monkeypatch.setenv("LOGNAME", "someone-else")
    monkeypatch.setenv("USER", "someone-else")
    assert cli_actor() == "cli:" + pwd.getpwuid(os.getuid()).pw_name


def test_a_cli_request_notifies_the_approvers_as_a_slack_one_does(cli: Cli) -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("smtp-bot")),
            "request",
            "disable",
            "acme",
            "one@acme.test",
            "--reason",
            "outbreak",
        ],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 approver(s) notified by direct message." in done.stdout
    opened = [c for c in cli.slack.calls if c.method == "conversations.open"]
    assert [c.args.get("users") for c in opened] == ["U0APPROVER"]
    dms = [
        c
        for c in cli.slack.calls
        if c.method == "chat.postMessage" and c.args.get("channel") != CHANNEL
    ]
    assert len(dms) == 1 and "waits for your approval" in dms[0].args["text"]


def test_notify_approvers_false_governs_cli_requests_too(cli: Cli) -> None:
    cli.config.write_text(
        cli.config.read_text().replace(
            "    cli_can_approve: true\n",
            "    cli_can_approve: true\n    notify_approvers: false\n",
        )
    )
    request = cli.run("request", "disable", "acme", "two@acme.test", "--reason", "x")
    assert request.code == 0
    assert "notified" not in request.out
    assert not [c for c in cli.slack.calls if c.method == "conversations.open"]
