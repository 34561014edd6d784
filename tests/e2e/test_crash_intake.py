"""Nothing acknowledged is lost, nothing is done twice: ``serve`` and its worker process are
SIGKILLed together (the whole process group) at random moments after acknowledgements, round
after round, on SQLite and on PostgreSQL, and restarted each time.

Each round starts the bot, sends slash commands as soon as its HTTP server answers (its worker
process may still be starting) and Approve presses for cards posted in earlier rounds, waits a
random 0-300 ms or 0.3-2.5 s after the last ack, and kills. At the end, one more
start finishes what is left. Then: every acknowledged command is exactly one request, every
acknowledged press exactly one approval, and every request is pending with its card or has
finished. The seed is in the test's name so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from approvals import Database
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import (
    APPROVER,
    BOT_TOKEN,
    WHM_TOKEN,
    bot_env,
    config_text,
    launch,
)
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm

ROUNDS = 20
COMMANDS_PER_ROUND = 2
PRESSES_PER_ROUND = 2
SEED = 20261202


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _database_url(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'smtp-bot.db'}", None
    schema = f"smtpbot_crash_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable ({type(exc).__name__})")
    admin.dispose()
    return f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}", schema


def _drop_schema(schema: str) -> None:
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _settled(db: sa.Engine) -> bool:
    with db.connect() as conn:
        open_intake = conn.execute(
            sa.text("SELECT count(*) FROM intake WHERE state IN ('queued', 'running')")
        ).scalar()
        open_jobs = conn.execute(
            sa.text("SELECT count(*) FROM job WHERE state IN ('queued', 'running')")
        ).scalar()
        cardless = conn.execute(
            sa.text("SELECT count(*) FROM change_request WHERE card_ref IS NULL")
        ).scalar()
        busy = conn.execute(
            sa.text("SELECT count(*) FROM change_request WHERE status IN ('approved', 'executing')")
        ).scalar()
    return open_intake == 0 and open_jobs == 0 and cardless == 0 and busy == 0


@pytest.mark.timeout(170)
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigkill_after_acks_loses_nothing_and_doubles_nothing(backend: str, tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-{backend}")
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    url, schema = _database_url(backend, tmp_path)
    if schema is not None:
        Database(url).upgrade()
    engine = sa.create_engine(url)
    process = None
    acked_commands: dict[str, str] = {}  # dedupe key -> mailbox
    acked_presses: set[int] = set()
    try:
        whm.add_account("crash", "crash.test")
        mailboxes = [f"m{i}@crash.test" for i in range(ROUNDS * COMMANDS_PER_ROUND)]
        for mailbox in mailboxes:
            whm.add_mailbox(mailbox)
        config = tmp_path / "smtp-bot.yml"
        config.write_text(config_text(whm.url))
        env = bot_env(
            tmp_path,
            slack,
            config,
            DATABASE_URL=url,
            SMTP_BOT_JOB_LEASE="1",
            SMTP_BOT_INTAKE_POLL="0.2",
        )
        fresh = iter(mailboxes)
        for round_ in range(ROUNDS):
            process, bot_url, _log = launch(
                tmp_path, env, log_name=f"bot{round_}.log", new_session=True, listening=True
            )
            sender = SlackSender(bot_url, env["SLACK_SIGNING_SECRET"], slack.base_url + "/r/")
            for _ in range(COMMANDS_PER_ROUND):
                mailbox = next(fresh)
                user = f"U0CRASH{round_:02d}"  # one each: the per-user limit is not tested here
                body, _name = sender.command_body(f"disable acme {mailbox}", user=user)
                response = sender._post(body)
                assert response.status_code == 200, response.text
                trigger = dict(pair.split("=", 1) for pair in body.split("&"))["trigger_id"]
                acked_commands[f"command:{trigger}"] = mailbox
            with engine.connect() as conn:
                carded = conn.execute(
                    sa.text(
                        "SELECT id, card_channel, card_ref FROM change_request "
                        "WHERE status = 'pending' AND card_ref IS NOT NULL ORDER BY id"
                    )
                ).all()
            unpressed = [row for row in carded if int(row[0]) not in acked_presses]
            for request_id, channel, ts in unpressed[:PRESSES_PER_ROUND]:
                response = sender.press(
                    "smtp_approve",
                    str(request_id),
                    user=APPROVER,
                    channel=channel,
                    message_ts=ts,
                )
                assert response.status_code == 200, response.text
                acked_presses.add(request_id)
            # half the kills land while the worker process is still starting, half later
            time.sleep(rng.uniform(0.0, 0.3) if rng.random() < 0.5 else rng.uniform(0.3, 2.5))
            _kill_group(process)
            process = None

        process, _bot_url, _log = launch(tmp_path, env, log_name="final.log", new_session=True)
        deadline = time.monotonic() + 40
        while not _settled(engine):
            assert time.monotonic() < deadline, "the restarted bot did not finish the backlog"
            time.sleep(0.2)

        with engine.connect() as conn:
            requests = conn.execute(
                sa.text(
                    "SELECT r.id, i.dedupe_key, r.status, r.card_ref FROM change_request r "
                    "JOIN intake i ON i.id = r.intake_id"
                )
            ).all()
            total = conn.execute(sa.text("SELECT count(*) FROM change_request")).scalar()
            approvals = conn.execute(
                sa.text("SELECT request_id, count(*) FROM approval GROUP BY request_id")
            ).all()
            failed_intake = conn.execute(
                sa.text("SELECT kind, attempts FROM intake WHERE state = 'failed'")
            ).all()
            most_attempts = conn.execute(sa.text("SELECT max(attempts) FROM intake")).scalar()
        by_key = {key: (rid, status, card) for rid, key, status, card in requests}
        lost = sorted(set(acked_commands) - set(by_key))
        assert lost == [], f"acknowledged commands with no request: {lost}"
        assert total == len(acked_commands), "a request that no command asked for, or a double"
        assert failed_intake == [], f"given up (kind, attempts): {failed_intake}"
        assert most_attempts is not None and most_attempts < 10
        for status, card in ((status, card) for _rid, status, card in by_key.values()):
            assert card is not None
            assert status in ("pending", "succeeded"), status
        approved = {request_id: n for request_id, n in approvals}
        assert set(approved) == acked_presses, "an acknowledged press with no approval"
        assert all(n == 1 for n in approved.values())
        for request_id in acked_presses:
            rid_status = next(s for rid, s, _c in by_key.values() if rid == request_id)
            assert rid_status == "succeeded"
        assert len(acked_presses) >= ROUNDS // 2  # the test exercised presses, not only commands
    finally:
        if process is not None:
            _kill_group(process)
        engine.dispose()
        slack.stop()
        whm.stop()
        if schema is not None:
            _drop_schema(schema)
