"""``smtp-bot serve`` runs its worker in a child process: the child's work shows in the
bot's /metrics, and the child never outlives the bot, not even a SIGKILLed one."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    APPROVER,
    BOT_TOKEN,
    OUTSIDER,
    WHM_TOKEN,
    Bot,
    bot_env,
    config_text,
    launch,
    stop,
)
from tests.e2e.test_walking_skeleton import _request
from tests.fakes.slack_api import FakeSlack
from tests.fakes.whm import FakeWhm


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie (reaped by nobody yet) counts as gone
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def _sample(url: str, name: str, **labels: str) -> float | None:
    """The value of sample ``name`` with ``labels`` in the bot's /metrics; None if absent."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return None


def _status_calls(url: str) -> float:
    count = "smtp_bot_provider_call_duration_seconds_count"
    return _sample(url, count, operation="status", tenant="acme") or 0.0


def test_the_worker_process_counts_into_the_bots_metrics(bot: Bot) -> None:
    assert len(_children(bot.process.pid)) == 1
    before = _status_calls(bot.url)
    bot.whm.add_account("metered", "metered.test")
    bot.whm.add_mailbox("m@metered.test")
    _response, name = bot.sender.command("status acme m@metered.test", user=OUTSIDER)
    bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert _status_calls(bot.url) == before + 1  # observed in the child, scraped from serve
    health = httpx.get(f"{bot.url}/healthz", timeout=5).json()
    assert health["worker"] == "ok"


def _wait_busy(url: str, value: float, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (seen := _sample(url, "smtp_bot_worker_busy_threads")) != value:
        assert time.monotonic() < deadline, f"busy worker threads: {seen}, not {value}"
        time.sleep(0.05)


def test_the_worker_process_reports_its_busy_threads(bot: Bot) -> None:
    bot.whm.add_account("slowacct", "slow.test")
    bot.whm.add_mailbox("s@slow.test")
    request_id, channel, ts = _request(bot, "disable acme s@slow.test --reason load")
    _wait_busy(bot.url, 0)  # idle, and reported by the child through serve's /metrics
    bot.whm.latency_s = 1.0  # the change takes a while: a thread stays busy meanwhile
    try:
        bot.sender.press(
            "smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts
        )
        _wait_busy(bot.url, 1)
    finally:
        bot.whm.latency_s = 0.0
    _wait_busy(bot.url, 0)
    assert bot.query(f"SELECT status FROM change_request WHERE id={request_id}") == [("succeeded",)]


@contextmanager
def _serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A bot of its own (this test kills or stops it), and its log."""
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    process = None
    try:
        config = tmp_path / "smtp-bot.yml"
        config.write_text(config_text(whm.url))
        process, _url, log_path = launch(tmp_path, bot_env(tmp_path, slack, config))
        yield process, log_path
    finally:
        if process is not None and process.poll() is None:
            stop(process)
        slack.stop()
        whm.stop()


def test_the_worker_process_dies_with_a_killed_bot(tmp_path: Path) -> None:
    with _serving(tmp_path) as (process, _log):
        (child,) = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert _gone(child, 10), "the worker process outlived the bot"


def test_sigterm_stops_bot_and_worker_process_cleanly(tmp_path: Path) -> None:
    with _serving(tmp_path) as (process, log_path):
        (child,) = _children(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()  # not -15: an orderly stop
        assert _gone(child, 5)
        assert "exited with" not in log_path.read_text()  # stopped, not restarted
