"""End-to-end harness: the real ``smtp-bot serve`` process on a real port, a loopback Slack
Web API, a loopback WHM, and requests signed exactly as Slack signs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm
from tests.fakes.winrm_host import FakeWinRMHost

SIGNING_SECRET = "e2e-signing-secret-0f3c9a7d5b"
BOT_TOKEN = "xoxb-e2e-bot-token-77aa"
WHM_TOKEN = "E2EWHMTOKEN5Q7Z3X9"
WINRM_PASSWORD = "e2e-WinRM-p4ss!word"
REQUESTER = "U0REQ"
APPROVER = "U0APPROVE"
APPROVER_2 = "U0APPROVE2"
OUTSIDER = "U0OUTSIDER"
GROUPIE = "U0GROUPIE"

CONFIG = """\
slack:
  allowed_team_ids: [T0TEST]
tenants:
  acme:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    allow_plaintext: true
    approvers: [{approver}, {approver2}, {requester}]
    channel: C0APPROVALS
    notify_approvers: false
  grp:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    allow_plaintext: true
    approvers: [S0ONCALL, {approver}]
    channel: C0GRP
    channels: [C0OPS, C0GRP]
  contoso:
    provider: exchange
    organization: contoso.onmicrosoft.com
    app_id: 11111111-2222-3333-4444-555555555555
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    winrm:
      url: {winrm_url}
      transport: basic
      username: CONTOSO\\svc-smtpbot
      password: ${{CONTOSO_WINRM_PASSWORD}}
    approvers: [{approver}, {approver2}]
    allow_plaintext: true
    channel: C0EXCH
    channels: [C0OPS, C0EXCH]
    notify_approvers: false
  fast:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    allow_plaintext: true
    approvers: [{approver}]
    approvals_required_tenant_wide: 1
    request_ttl: 2s
    notify_approvers: false
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Bot:
    url: str
    process: subprocess.Popen[bytes]
    db_url: str
    log_path: Path
    slack: FakeSlack
    whm: FakeWhm
    sender: SlackSender
    exchange: FakeWinRMHost

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def query(self, sql: str) -> list[tuple]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], log_path: Path, *, listening: bool = False
) -> None:
    """Until /healthz says 200 (``listening``: until it answers at all, worker or not)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bot exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            status: int | None = httpx.get(f"{url}/healthz", timeout=1).status_code
        except httpx.HTTPError:
            status = None
        if status == 200 or (listening and status is not None):
            return
        time.sleep(0.1)
    raise AssertionError(f"bot not ready in 30 s:\n{log_path.read_text()}")


def config_text(whm_url: str, winrm_url: str = "http://127.0.0.1:9/wsman") -> str:
    return CONFIG.format(
        whm_url=whm_url,
        winrm_url=winrm_url,
        approver=APPROVER,
        approver2=APPROVER_2,
        requester=REQUESTER,
    )


def bot_env(workdir: Path, slack: FakeSlack, config: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process under test (nothing from the developer's shell)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SMTP_BOT_CONFIG": str(config),
        "ACME_WHM_TOKEN": WHM_TOKEN,
        "CONTOSO_WINRM_PASSWORD": WINRM_PASSWORD,
        "NO_PROXY": "127.0.0.1,localhost",
        "SMTP_BOT_HOUSEKEEPING_INTERVAL": "0.3",
        **extra,
    }


def launch(
    workdir: Path,
    env: dict[str, str],
    *,
    port: int | None = None,
    log_name: str = "bot.log",
    new_session: bool = False,
    listening: bool = False,
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start `smtp-bot serve` on a free port and wait until /healthz answers 200
    (``new_session``: in a process group of its own, with its worker process, to kill whole;
    ``listening``: return once the HTTP server answers, before the worker process is ready)."""
    port = port or _free_port()
    log_path = workdir / log_name
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path, listening=listening)
    except BaseException:
        process.kill()
        raise
    return process, url, log_path


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    workdir = tmp_path_factory.mktemp("bot")
    slack = FakeSlack(token=BOT_TOKEN).start()
    slack.usergroups["S0ONCALL"] = [GROUPIE]
    whm = FakeWhm(token=WHM_TOKEN).start()
    exchange = FakeWinRMHost(FakeExchangeOrg(), password=WINRM_PASSWORD).__enter__()
    config = workdir / "smtp-bot.yml"
    config.write_text(config_text(whm.url, exchange.url))
    try:
        process, url, log_path = launch(workdir, bot_env(workdir, slack, config))
    except BaseException:
        slack.stop()
        whm.stop()
        exchange.__exit__(None, None, None)
        raise
    sender = SlackSender(url, SIGNING_SECRET, slack.base_url + "/response/")
    try:
        yield Bot(
            url,
            process,
            f"sqlite:///{workdir / 'smtp-bot.db'}",
            log_path,
            slack,
            whm,
            sender,
            exchange,
        )
    finally:
        stop(process)
        slack.stop()
        whm.stop()
        exchange.__exit__(None, None, None)
