"""The worker process that serve and socket start: a real ``smtp-bot worker --child-of`` fed
task lines on stdin, answering Slack (a loopback fake) and reading WHM (a loopback fake)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from approvals import Database
from bot.running.worker_process import WorkerProcess, child_argv
from bot.slack.task import Task
from tests.fakes.slack_api import FakeSlack
from tests.fakes.whm import FakeWhm

TOKEN = "xoxb-child-token-1"
WHM_TOKEN = "CHILDWHMTOKEN"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[dict[str, str], FakeSlack, FakeWhm]]:
    slack = FakeSlack(token=TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    whm.add_account("acme", "acme.test")
    whm.add_mailbox("a@acme.test")
    config = tmp_path / "smtp-bot.yml"
    config.write_text(
        "tenants:\n  acme:\n    provider: whm\n"
        f"    url: {whm.url}\n    username: root\n    token: {WHM_TOKEN}\n"
        "    verify_tls: false\n    approvers: [U0APP]\n    approvals_required_tenant_wide: 1\n"
        "    allow_plaintext: true\n"
        "limits:\n  status_reads_per_user: 1000\n"  # these tests send many reads as one user
    )
    db_url = f"sqlite:///{tmp_path / 'child.db'}"
    db = Database(db_url)
    db.upgrade()
    db.dispose()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_url,
        "SMTP_BOT_CONFIG": str(config),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    try:
        yield env, slack, whm
    finally:
        slack.stop()
        whm.stop()


def _status(slack: FakeSlack, name: str, **extra: str) -> Task:
    return Task.command(
        {
            "user_id": "U0ANY",
            "team_id": "T0TEST",
            "channel_id": "C0OPS",
            "text": "status acme a@acme.test",
            "response_url": slack.response_url(name),
            **extra,
        }
    )


@contextmanager
def _ready_process(env: dict[str, str]) -> Iterator[WorkerProcess]:
    """A started worker process that said ready; stopped cleanly at the end."""
    process = WorkerProcess(child_argv(), env=env).start()
    try:
        assert process.wait_ready(30)
        yield process
    finally:
        assert process.stop(30)


def _answered(slack: FakeSlack, name: str) -> str:
    call = slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name), timeout=20)
    return str(call.args["text"])


def test_tasks_run_in_the_worker_process(world: tuple[dict[str, str], FakeSlack, FakeWhm]) -> None:
    env, slack, whm = world
    process = WorkerProcess(child_argv(), env=env).start()
    try:
        assert process.starting or process.alive
        assert process.wait_ready(30)
        assert process.alive and process.pid != os.getpid()
        process.submit(_status(slack, "s1"))
        assert "a@acme.test" in _answered(slack, "s1")
        assert whm.calls  # the child read the live state itself
    finally:
        assert process.stop(30)
    assert not process.alive


def test_stop_hands_on_and_finishes_what_was_queued(
    world: tuple[dict[str, str], FakeSlack, FakeWhm],
) -> None:
    env, slack, _whm = world
    process = WorkerProcess(child_argv(), env=env).start()
    assert process.wait_ready(30)
    for n in range(5):
        process.submit(_status(slack, f"q{n}"))
    assert process.stop(30)  # closes stdin at once; the child drains it before exiting
    for n in range(5):
        assert "a@acme.test" in _answered(slack, f"q{n}")
    assert process.lost == 0


def test_a_worker_process_that_dies_is_started_again(
    world: tuple[dict[str, str], FakeSlack, FakeWhm],
) -> None:
    env, slack, _whm = world
    exited: list[int] = []
    process = WorkerProcess(
        child_argv(), env=env, restart_delay_s=(0.2, 1.0), on_exit=exited.append
    ).start()
    try:
        assert process.wait_ready(30)
        first = process.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not (process.restarts == 1 and process.alive):
            assert time.monotonic() < deadline, "not restarted"
            time.sleep(0.05)
        assert process.pid != first
        assert exited == [first]  # its live metrics are dropped (forget_process)
        process.submit(_status(slack, "after"))
        assert "a@acme.test" in _answered(slack, "after")
    finally:
        assert process.stop(30)


def test_a_task_line_it_does_not_know_is_skipped(
    world: tuple[dict[str, str], FakeSlack, FakeWhm],
) -> None:
    env, slack, _whm = world
    with _ready_process(env) as process:
        process.submit(Task("no-such-kind", {}))
        process.submit(_status(slack, "next"))
        assert "a@acme.test" in _answered(slack, "next")  # the child carried on
        assert process.alive and process.restarts == 0


def test_tasks_beyond_what_the_pipe_holds_all_arrive_and_never_block_the_sender(
    world: tuple[dict[str, str], FakeSlack, FakeWhm],
) -> None:
    env, slack, _whm = world
    with _ready_process(env) as process:
        assert process.pid is not None
        os.kill(process.pid, signal.SIGSTOP)  # the child reads nothing for now
        try:
            sender = threading.Thread(
                target=lambda: [
                    process.submit(_status(slack, f"big{n}", padding="x" * 6000))  # > 4 KiB
                    for n in range(40)  # ~240 KB: several times what a pipe buffers
                ]
            )
            sender.start()
            sender.join(30)
            assert not sender.is_alive(), "submit waited for the stopped child"
        finally:
            os.kill(process.pid, signal.SIGCONT)
        for n in range(40):
            assert "a@acme.test" in _answered(slack, f"big{n}")
        assert process.lost == 0


def _threads_policy(pid: int) -> set[tuple[int, int]]:
    """(scheduling policy, niceness) of every thread of ``pid``."""
    seen = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        seen.add((os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)))
    return seen


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
@pytest.mark.parametrize(
    ("sched", "policy"), [(None, "SCHED_IDLE"), ("normal", "SCHED_OTHER"), ("idle", "SCHED_IDLE")]
)
def test_the_worker_process_gives_way_to_the_acks(
    world: tuple[dict[str, str], FakeSlack, FakeWhm], sched: str | None, policy: str
) -> None:
    """Every thread of the child, those started after the switch included, runs with the
    policy asked for (SCHED_IDLE by default) and niceness 10; the bot itself is unchanged."""
    env, slack, _whm = world
    env = {k: v for k, v in env.items() if not k.startswith("SMTP_BOT_WORKER_")}
    if sched is not None:
        env["SMTP_BOT_WORKER_SCHED"] = sched
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    with _ready_process(env) as process:
        process.submit(_status(slack, "p1"))  # so its pools have started their threads
        _answered(slack, "p1")
        assert process.pid is not None
        threads = _threads_policy(process.pid)
        assert len(threads) == 1 and threads == {(getattr(os, policy), mine + 10)}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
