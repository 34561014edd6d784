"""Starting `smtp-bot serve` / `socket` through the console script: a taken port is said in
plain words with exit 2 before anything is touched, and the default address is loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    BOT_TOKEN,
    WHM_TOKEN,
    _free_port,
    _wait_ready,
    bot_env,
    config_text,
    stop,
)
from tests.fakes.slack_api import FakeSlack
from tests.fakes.whm import FakeWhm

SMTP_BOT = str(Path(sys.executable).with_name("smtp-bot"))


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    slack = FakeSlack(token=BOT_TOKEN).start()
    whm = FakeWhm(token=WHM_TOKEN).start()
    config = tmp_path / "smtp-bot.yml"
    config.write_text(config_text(whm.url))
    try:
        yield bot_env(tmp_path, slack, config, SLACK_APP_TOKEN="xapp-1-e2e-startup")
    finally:
        slack.stop()
        whm.stop()


@pytest.fixture()
def taken_port() -> Iterator[int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "{port}"],
        ["serve", "--host", "127.0.0.1", "--port", "{port}", "--worker", "thread"],
        ["socket", "--health-port", "{port}"],
    ],
    ids=["serve", "serve-thread", "socket-health"],
)
def test_a_taken_port_is_a_startup_problem_said_before_any_side_effect(
    argv: list[str], env: dict[str, str], taken_port: int, tmp_path: Path
) -> None:
    args = [a.format(port=taken_port) for a in argv]
    done = subprocess.run(
        [SMTP_BOT, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    # before it: only the start-up warnings of this config (plaintext loopback fakes)
    assert done.stderr.strip().splitlines()[-1] == (
        f"smtp-bot: port {taken_port} is in use on 127.0.0.1: stop what listens there or "
        "choose --port"
    )
    assert "Errno" not in done.stdout + done.stderr
    assert "listening on" not in done.stdout + done.stderr
    assert not (tmp_path / "smtp-bot.db").exists(), "the database was created before the bind"


def test_serve_listens_on_loopback_by_default(env: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [SMTP_BOT, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=(tmp_path / "bot.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, tmp_path / "bot.log")
        log = (tmp_path / "bot.log").read_text()
        assert f"listening on 127.0.0.1:{port}" in log
        assert "will be unused" not in log  # Bolt's token warning says nothing to an operator
        assert _listening_addresses(port) == ["127.0.0.1"]
    finally:
        stop(process)


def _listening_addresses(port: int) -> list[str]:
    """The IPv4 addresses with a socket listening on ``port``, from the kernel's table."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found
