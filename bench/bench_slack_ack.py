"""Benchmark: slash-command acknowledgement latency and throughput, ours vs a bare Bolt app.

Both apps run as separate processes on the same stack (Starlette + uvicorn, Bolt dispatch
on a thread as bot/running/server.py does it) and post to the same loopback fake Slack; ours is
the real ``smtp-bot serve`` (SQLite, its worker process) with a WHM tenant on the loopback fake WHM
(``--whm-latency`` per call, default 50 ms, as a stand-in for a remote cpsrvd). The load is
signed slash commands from one asyncio process at concurrency 1, 10 and 50 (closed loop:
each of N clients sends its next command when the previous one is answered) over keep-alive
connections, by the lean client in ``_loadgen.py`` (``--loadgen httpx``: httpx's AsyncClient,
which costs 3-9 ms of CPU per request on the cores the apps share); the time measured is
send → HTTP response (the ack). Mix: 80% ``disable acme user@…`` (the live check
on WHM runs after the ack), 10% ``status``, 10% invalid input (refused in the ack). The bare
app gets the same bodies, acks and posts one message. Blocks alternate bare/ours, and each
block waits until the previous app's after-ack work has drained.

    /work/venv/bin/python bench/bench_slack_ack.py [--quick] [--requests 1000] [--reps 3]
        [--loadgen raw|httpx] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    Fakes,
    bot_env,
    command_body,
    cpu_s,
    cpu_s_of,
    family,
    fresh_database,
    launch_bare,
    launch_serve,
    machine,
    machine_jiffies,
    mailbox,
    percentile,
    sign,
    stop,
    table,
    write_config,
)
from _loadgen import build_request, run_closed_loop  # noqa: E402

LEVELS = (1, 10, 50)


@dataclass
class Block:
    """One measured block: one app, one concurrency level."""

    app: str
    concurrency: int
    latencies: list[float]
    wall_s: float
    errors: int
    drained: int  # after-ack completions seen at the fakes
    expected: int
    drain_s: float  # time from the last ack until the after-ack work was done
    cpu_s: float  # the app process's CPU over the block and its drain
    loadgen_cpu_s: float  # this process's CPU over the block (building, signing, sending)
    fakes_cpu_s: float  # the fakes process's CPU over the block and its drain
    front_cpu_s: float  # the answering process alone (not serve's worker) while the block ran
    others_cpu_s: float  # everything else on the machine while the block ran (all cores)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s


def command_texts(n: int, start: int, domains: int, mailboxes: int) -> list[str]:
    """The realistic mix: 8 in 10 change requests, 1 status, 1 invalid."""
    texts = []
    for i in range(start, start + n):
        box = mailbox(i % mailboxes, domains)
        kind = i % 10
        if kind == 8:
            texts.append(f"status acme {box}")
        elif kind == 9:
            texts.append("disable acme not-an-address" if i % 20 == 9 else "frobnicate acme")
        else:
            texts.append(f"disable acme {box} --reason bench")
    return texts


def expected_after_ack(texts: list[str]) -> int:
    """How many response_url posts ours makes after the ack (changes and status reads)."""
    return sum(1 for t in texts if t.startswith("status") or "@" in t)


def signed_commands(
    texts: list[str], start: int, response_base: str
) -> list[tuple[str, dict[str, str]]]:
    """(body, headers) of each command, signed now as Slack signs it; the n-th command has
    its own user (of 200), response_url and trigger_id."""
    now = int(time.time())
    signed = []
    for n, text in enumerate(texts, start):
        body = command_body(
            text, user=f"U0B{n % 200:03d}", response_url=f"{response_base}r{n}", n=n
        )
        signed.append((body, sign(body, now)))
    return signed


async def fire(
    url: str,
    texts: list[str],
    start: int,
    response_base: str,
    concurrency: int,
    loadgen: str = "raw",
) -> tuple[list[float], float, int]:
    """Send the commands from ``concurrency`` clients; (ack latencies, wall seconds, errors)."""
    requests = signed_commands(texts, start, response_base)
    if loadgen == "raw":
        raw = [build_request(url, body, headers) for body, headers in requests]
        result = await run_closed_loop(url, raw, concurrency)
        return result.latencies, result.wall_s, result.errors
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one_client() -> None:
            nonlocal errors
            for body, headers in queue:
                t0 = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return latencies, wall, errors


def idle_every_thread(pid: int) -> None:
    """Put every thread of ``pid`` under SCHED_IDLE (threads it starts later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))


def wait_count(fakes: Fakes, side: str, name: str, target: int, cap_s: float = 300) -> int:
    deadline = time.monotonic() + cap_s
    while True:
        now = fakes.stats()[side].get(name, 0)
        if now >= target or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


class Apps:
    """The fakes, ours and the bare app, started once for the whole run."""

    def __init__(
        self,
        workdir: Path,
        whm_latency: float,
        worker: str = "process",
        loadgen: str = "raw",
        database_url: str | None = None,
    ) -> None:
        self.loadgen = loadgen
        self.fakes = Fakes(whm_latency=whm_latency)
        self.procs = []
        try:
            config = write_config(workdir, self.fakes.whm_url)
            extra = {"DATABASE_URL": database_url} if database_url else {}
            env = bot_env(self.fakes, config, **extra)
            self.ours_proc, self.ours_url = launch_serve(workdir, env, "--worker", worker)
            self.procs.append(self.ours_proc)
            self.bare_proc, self.bare_url = launch_bare(workdir, env)
            self.procs.append(self.bare_proc)
        except BaseException:
            self.close()
            raise
        self.sent = 0
        self.response_base = self.fakes.slack_base_url + "/response/"

    def close(self) -> None:
        for proc in self.procs:
            stop(proc)
        self.fakes.close()

    def run_block(self, app: str, concurrency: int, n: int) -> Block:
        """n commands to ``app`` at ``concurrency``; then wait for its after-ack work."""
        texts = command_texts(n, self.sent, self.fakes.domains, self.fakes.mailboxes)
        side, name = ("slack", "response_url") if app == "ours" else ("slack", "chat.postMessage")
        before = self.fakes.stats()[side].get(name, 0)
        expected = expected_after_ack(texts) if app == "ours" else n
        url = (self.ours_url if app == "ours" else self.bare_url) + "/slack/events"
        pid = (self.ours_proc if app == "ours" else self.bare_proc).pid
        procs = family(pid)
        cpu0 = cpu_s_of(procs)
        fakes0 = cpu_s(self.fakes.proc.pid)
        gc.collect()
        front0, busy0 = cpu_s(pid), machine_jiffies()[0]
        gc.disable()  # the load generator must not pause the requests it times
        load0 = time.process_time()
        try:
            latencies, wall, errors = asyncio.run(
                fire(url, texts, self.sent, self.response_base, concurrency, self.loadgen)
            )
        finally:
            gc.enable()
        load_cpu = time.process_time() - load0
        front_cpu = cpu_s(pid) - front0
        busy_s = (machine_jiffies()[0] - busy0) / os.sysconf("SC_CLK_TCK")
        t_end = time.monotonic()
        self.sent += n
        seen = wait_count(self.fakes, side, name, before + expected) - before
        drain = time.monotonic() - t_end
        cpu = cpu_s_of(procs) - cpu0
        fakes_cpu = cpu_s(self.fakes.proc.pid) - fakes0
        counts = (errors, seen, expected, drain)
        others = max(busy_s - front_cpu - load_cpu, 0.0)
        return Block(
            app, concurrency, latencies, wall, *counts, cpu, load_cpu, fakes_cpu, front_cpu, others
        )


def run(
    requests: int,
    reps: int,
    levels: tuple[int, ...],
    whm_latency: float,
    on_block: Callable[[Block], None] | None = None,
    apps: Apps | None = None,
    worker: str = "process",
    load_nice: int = 0,
    loadgen: str = "raw",
    database_url: str | None = None,
    fakes_idle: bool = False,
) -> list[Block]:
    """All blocks: per rep and level, bare and ours back to back, their order alternating."""
    own = apps is None
    workdir = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    apps = apps or Apps(workdir, whm_latency, worker, loadgen, database_url)
    if load_nice:  # this process only: the apps and the fakes were started before, at 0
        os.setpriority(os.PRIO_PROCESS, 0, load_nice)
    if fakes_idle:
        idle_every_thread(apps.fakes.proc.pid)
    blocks: list[Block] = []
    try:
        for name in ("bare", "ours"):  # warm-up: imports, connections, first queries
            apps.run_block(name, 5, 50)
        for rep in range(reps):
            for i, level in enumerate(levels):
                order = ("bare", "ours") if (rep + i) % 2 == 0 else ("ours", "bare")
                for name in order:
                    block = apps.run_block(name, level, requests)
                    blocks.append(block)
                    if on_block:
                        on_block(block)
    finally:
        if own:
            apps.close()
    return blocks


class Measured(Protocol):
    """What ``summary`` reads of a block (ours and the wrk cross-check's)."""

    app: str
    concurrency: int

    @property
    def p50_ms(self) -> float: ...

    @property
    def p99_ms(self) -> float: ...

    @property
    def rps(self) -> float: ...


def summary(blocks: Sequence[Measured], levels: tuple[int, ...]) -> str:
    rows = []
    for level in levels:
        bare = [b for b in blocks if b.app == "bare" and b.concurrency == level]
        ours = [b for b in blocks if b.app == "ours" and b.concurrency == level]
        if not bare or not ours:
            continue

        def med(bs: list[Measured], attr: str) -> float:
            return statistics.median(getattr(b, attr) for b in bs)

        b50, b99, brps = med(bare, "p50_ms"), med(bare, "p99_ms"), med(bare, "rps")
        o50, o99, orps = med(ours, "p50_ms"), med(ours, "p99_ms"), med(ours, "rps")
        rows.append(
            [
                level,
                f"{b50:.1f}",
                f"{b99:.1f}",
                f"{brps:.0f}",
                f"{o50:.1f}",
                f"{o99:.1f}",
                f"{orps:.0f}",
                f"{o50 / b50:.2f}x",
                f"{o99 / b99:.2f}x",
                f"{orps / brps:.2f}x",
                "yes" if o99 <= b99 else "**no**",
            ]
        )
    headers = [
        "concurrency",
        "bare p50 ms",
        "bare p99 ms",
        "bare req/s",
        "ours p50 ms",
        "ours p99 ms",
        "ours req/s",
        "p50 ours/bare",
        "p99 ours/bare",
        "req/s ours/bare",
        "p99 goal met",
    ]
    return table(headers, rows)


def block_line(b: Block) -> str:
    return (
        f"  {b.app:4} c={b.concurrency:<3} n={len(b.latencies)} p50={b.p50_ms:.1f}ms "
        f"p99={b.p99_ms:.1f}ms {b.rps:.0f} req/s errors={b.errors} "
        f"after-ack done {b.drained}/{b.expected} ({b.drain_s:.1f}s after the last ack), "
        f"app CPU {b.cpu_s / len(b.latencies) * 1000:.1f} ms/command; load generator "
        f"{b.loadgen_cpu_s / len(b.latencies) * 1000:.2f}, fakes "
        f"{b.fakes_cpu_s / len(b.latencies) * 1000:.2f} ms/command; while it ran: the "
        f"answering process {b.front_cpu_s / len(b.latencies) * 1000:.2f}, all else "
        f"{b.others_cpu_s / len(b.latencies) * 1000:.2f} ms/command"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 requests, 1 rep")
    parser.add_argument("--requests", type=int, default=1000, help="per app, level and rep")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--whm-latency", type=float, default=0.05)
    parser.add_argument(
        "--worker",
        choices=("process", "thread"),
        default="process",
        help="ours' `serve --worker` mode (default: process, as the CLI runs it)",
    )
    parser.add_argument(
        "--load-nice",
        type=int,
        default=0,
        help="niceness of the load generator (this process) once the apps run, e.g. -10: "
        "Slack's clients have machines of their own, so the apps' background work should "
        "not delay the sending and timing of requests (negative values need root)",
    )
    parser.add_argument(
        "--fakes-idle",
        action="store_true",
        help="a diagnostic: run the fakes process (Slack's and WHM's stand-ins) under "
        "SCHED_IDLE, for both apps, as if those servers had cores of their own, as they do "
        "in production; the goal is judged without it",
    )
    parser.add_argument(
        "--loadgen",
        choices=("raw", "httpx"),
        default="raw",
        help="the load generator's HTTP client: raw (bench/_loadgen.py, default) or httpx",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="ours' store: SQLite (default) or a fresh, migrated PostgreSQL schema",
    )
    args = parser.parse_args()
    if args.quick:
        args.requests, args.reps = 300, 1
    levels = tuple(int(x) for x in args.levels.split(","))
    print(
        f"# slash-command ack: {args.requests} requests per app/level/rep, {args.reps} rep(s), "
        f"WHM {args.whm_latency * 1000:.0f} ms/call; {machine()}"
        + f"; ours: serve --worker {args.worker}; load generator {args.loadgen}, "
        + f"niceness {args.load_nice}"
        + ("; fakes under SCHED_IDLE (diagnostic)" if args.fakes_idle else ""),
        flush=True,
    )
    with fresh_database(args.database) as database_url:
        print(f"# ours' database: {args.database}", flush=True)
        blocks = run(
            args.requests,
            args.reps,
            levels,
            args.whm_latency,
            on_block=lambda b: print(block_line(b), flush=True),
            worker=args.worker,
            load_nice=args.load_nice,
            loadgen=args.loadgen,
            database_url=database_url,
            fakes_idle=args.fakes_idle,
        )
    print()
    print(f"Medians over {args.reps} rep(s):\n")
    print(summary(blocks, levels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
