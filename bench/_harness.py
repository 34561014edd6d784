"""Shared pieces of the bot/workflow/worker benchmarks.

The loopback fakes (Slack Web API + WHM) run in their own process so that their CPU does not
share a GIL with the load generator that takes the timings; the bench talks to that process
over stdin/stdout lines. Also here: the bare Bolt baseline app, process start/stop, a private
PostgreSQL schema, signing, percentiles, /proc readings and Markdown tables.

    python bench/_harness.py fakes [--whm-latency S] [--domains D] [--mailboxes N]
    python bench/_harness.py bare --port P      # env: SLACK_SIGNING_SECRET, SLACK_API_URL
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIGNING_SECRET = "bench-signing-secret-5d1e"
BOT_TOKEN = "xoxb-bench-bot-token"
WHM_TOKEN = "BENCHWHMTOKEN42"
APPROVER = "U0APPROVE"
TEAM = "T0TEST"
POSTGRES_URL = os.environ.get(
    "SMTP_BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

CONFIG = """\
slack:
  allowed_team_ids: [{team}]
limits:
  change_requests_per_user: 10000
  change_requests_window: 10m
tenants:
  acme:
    provider: whm
    url: {whm_url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: false
    approvers: [{approver}]
    approvals_required_tenant_wide: 1
    allow_plaintext: true
    channel: C0APPROVALS
    notify_approvers: false
"""


def mailbox(i: int, domains: int) -> str:
    """The i-th mailbox the fake WHM holds (``user{i}@d{i % domains}.test``)."""
    return f"user{i}@d{i % domains}.test"


# --- the fakes, in their own process -------------------------------------------------------------


def _fakes_main(args: argparse.Namespace) -> int:
    """Serve FakeSlack + FakeWhm until stdin closes; answer 'stats' / 'wait-suspend' lines."""
    from tests.fakes.slack_api import FakeSlack
    from tests.fakes.whm import FakeWhm

    slack = FakeSlack(token=BOT_TOKEN, team_id=TEAM).start()
    whm = FakeWhm(token=WHM_TOKEN, latency_s=args.whm_latency)
    for d in range(args.domains):
        whm.add_account(f"acct{d}", f"d{d}.test")
    for i in range(args.mailboxes):
        whm.add_mailbox(mailbox(i, args.domains))
    suspends: dict[str, float] = {}
    arrived = threading.Condition()
    handle = whm.handle

    def recording_handle(method: str, path: str, params: dict[str, str], auth: str) -> Any:
        # stamp on arrival, before the fake's latency: CLOCK_MONOTONIC is system-wide
        if params.get("cpanel.function") == "suspend_outgoing":
            with arrived:
                suspends.setdefault(params.get("email", ""), time.monotonic())
                arrived.notify_all()
        return handle(method, path, params, auth)

    whm.handle = recording_handle  # type: ignore[method-assign]
    whm.start()
    _say({"slack_api_url": slack.api_url, "slack_base_url": slack.base_url, "whm_url": whm.url})
    for line in sys.stdin:
        command = line.strip()
        if command == "stats":
            with slack._lock:
                slack_calls = Counter(c.method for c in slack.calls)
            with whm._lock:
                whm_calls = Counter(c.function for c in whm.calls)
            _say({"slack": slack_calls, "whm": whm_calls})
        elif command.startswith("wait-suspend "):
            # block here rather than have the bench poll: polling took CPU from the bot
            _, box, timeout = command.split()
            with arrived:
                arrived.wait_for(lambda box=box: box in suspends, float(timeout))
                _say({"at": suspends.get(box)})
        elif command.startswith("latency "):
            whm.latency_s = float(command.split()[1])
            _say({"ok": True})
    slack.stop()
    whm.stop()
    return 0


def _say(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Fakes:
    """Handle on the fakes process."""

    def __init__(self, *, whm_latency: float, domains: int = 20, mailboxes: int = 1000) -> None:
        self.domains = domains
        self.mailboxes = mailboxes
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "fakes", "--whm-latency", str(whm_latency)]
            + ["--domains", str(domains), "--mailboxes", str(mailboxes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        urls = self._read()
        self.slack_api_url: str = urls["slack_api_url"]
        self.slack_base_url: str = urls["slack_base_url"]
        self.whm_url: str = urls["whm_url"]

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fakes process exited")
        return json.loads(line)

    def _ask(self, command: str) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def stats(self) -> dict[str, dict[str, int]]:
        return self._ask("stats")

    def wait_suspend(self, box: str, timeout: float) -> float | None:
        """When suspend_outgoing for ``box`` reached the fake WHM (CLOCK_MONOTONIC), waiting
        up to ``timeout`` seconds for it; None if it did not come."""
        return self._ask(f"wait-suspend {box} {timeout}")["at"]

    def set_latency(self, seconds: float) -> None:
        self._ask(f"latency {seconds}")

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Fakes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# --- the bare Bolt baseline ----------------------------------------------------------------------


def _bare_main(args: argparse.Namespace) -> int:
    """A bare Bolt app (acks, then posts one message) on the stack bot/running/server.py uses."""
    import uvicorn
    from slack_bolt import App
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from slack_sdk import WebClient
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    client = WebClient(token=BOT_TOKEN, base_url=os.environ["SLACK_API_URL"], timeout=10)
    app = App(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token_verification_enabled=False,
        request_verification_enabled=True,
        process_before_response=False,
    )

    @app.command("/smtp")
    def on_smtp(ack: Any, command: dict[str, Any], client: WebClient) -> None:
        ack(response_type="ephemeral", text="Got it")
        client.chat_postMessage(channel=command["channel_id"], text=command.get("text") or "-")

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    asgi = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    uvicorn.run(asgi, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


# --- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(workdir: Path, whm_url: str) -> Path:
    path = workdir / "smtp-bot.yml"
    path.write_text(CONFIG.format(team=TEAM, whm_url=whm_url, approver=APPROVER))
    return path


def bot_env(fakes: Fakes, config: Path, **extra: str) -> dict[str, str]:
    """A bot process's environment: nothing Slack- or database-related from the caller's."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    return {
        **keep,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fakes.slack_api_url,
        "SMTP_BOT_CONFIG": str(config),
        "ACME_WHM_TOKEN": WHM_TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
        "SMTP_BOT_LOG_FORMAT": "json",
        **extra,
    }


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy in 60 s:\n{log.read_text()[-3000:]}")


def spawn(
    argv: Sequence[str], workdir: Path, env: dict[str, str], log_name: str
) -> subprocess.Popen[bytes]:
    with (workdir / log_name).open("ab") as log:
        return subprocess.Popen(
            [sys.executable, *argv], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def launch_serve(
    workdir: Path, env: dict[str, str], *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """The real ``smtp-bot serve`` on a free loopback port, once /healthz answers 200."""
    port = free_port()
    argv = ["-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    proc = spawn(argv, workdir, env, "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, workdir / "serve.log")
    except BaseException:
        stop(proc)
        raise
    return proc, url


def launch_bare(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = spawn([__file__, "bare", "--port", str(port)], workdir, env, "bare.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, workdir / "bare.log")
    except BaseException:
        stop(proc)
        raise
    return proc, url


def stop(proc: subprocess.Popen[Any], timeout: float = 40) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A DATABASE_URL for a private schema, dropped afterwards (migrations not applied)."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    schema = f"smtpbot_bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def fresh_database(kind: str) -> Iterator[str | None]:
    """``serve``'s DATABASE_URL: None for its own SQLite file, or a migrated PostgreSQL schema."""
    if kind == "sqlite":
        yield None
        return
    from approvals import Database

    with postgres_schema() as url:
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url


# --- Slack requests ------------------------------------------------------------------------------


def sign(body: str, timestamp: int) -> dict[str, str]:
    """Headers exactly as Slack signs a request: v0=HMAC-SHA256(secret, 'v0:ts:body')."""
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


def command_body(text: str, *, user: str, response_url: str, n: int) -> str:
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM,
            "team_domain": "bench",
            "channel_id": "C0OPS",
            "channel_name": "ops",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/smtp",
            "text": text,
            "api_app_id": "A0SMTPBOT",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{n}.1.bench",
        }
    )


def approve_body(request_id: int, *, user: str, message_ts: str, response_url: str) -> str:
    """A block_actions payload: ``user`` pressed Approve on the card of ``request_id``."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0SMTPBOT",
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": "C0APPROVALS",
            "is_ephemeral": False,
        },
        "trigger_id": f"{request_id}.1.approve",
        "team": {"id": TEAM, "domain": "bench"},
        "channel": {"id": "C0APPROVALS", "name": "approvals"},
        "message": {"type": "message", "ts": message_ts, "text": "card"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": "smtp_approve",
                "block_id": f"req-{request_id}-decide",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": str(request_id),
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


# --- numbers and tables --------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` in MiB, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """``pid`` and its child processes (serve's worker process, for instance)."""
    children: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            children.append(int(stat.parent.name))
    return [pid, *children]


def _loopback_ports_to(pids: Sequence[int], port: int) -> set[int]:
    """Local ports of the TCP connections that ``pids`` hold to 127.0.0.1:``port``."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local, remote, inode = cols[1], cols[2], cols[9]
        if inode in inodes and int(remote.split(":")[1], 16) == port:
            ports.add(int(local.split(":")[1], 16))
    return ports


def postgres_backends(pids: Sequence[int]) -> list[int]:
    """PIDs of the PostgreSQL backends serving ``pids`` (other sessions' are left out)."""
    import sqlalchemy as sa

    ports = _loopback_ports_to(pids, 5432)
    if not ports:
        return []
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT pid, client_port FROM pg_stat_activity")).all()
    finally:
        engine.dispose()
    return [int(pid) for pid, client_port in rows if client_port in ports]


def cpu_s_of(pids: Sequence[int]) -> float:
    """CPU seconds of the processes in ``pids`` that still exist."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_s(pid)
        except OSError:
            continue
    return total


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def machine() -> str:
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} vCPUs, "
        f"Python {platform.python_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    fakes = sub.add_parser("fakes")
    fakes.add_argument("--whm-latency", type=float, default=0.05)
    fakes.add_argument("--domains", type=int, default=20)
    fakes.add_argument("--mailboxes", type=int, default=1000)
    bare = sub.add_parser("bare")
    bare.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    return _fakes_main(args) if args.what == "fakes" else _bare_main(args)


if __name__ == "__main__":
    sys.exit(main())
