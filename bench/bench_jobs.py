"""Benchmark: jobs/s with 1 and 3 ``smtp-bot worker`` processes, SQLite and PostgreSQL.

Approved requests (one mailbox each) are queued through ``approvals.Workflow`` as
tests/e2e/test_durability.py does, into a database migrated with ``smtp-bot db upgrade``
(SQLite file, or a private PostgreSQL schema dropped at the end). Then 1 or 3 worker
processes run them against the loopback fake WHM, which takes ``--whm-latency`` (50 ms) per
call; each job makes 3 WHM calls (getdomainowner, suspend_outgoing, read-back). Jobs/s is
read from the job table over a steady window (after the first jobs finished and a settle
second), not including process start-up. Runs alternate 1 and 3 workers and draw from one
queue per database, sized so it never runs dry. CPU over the window is read from /proc for
the workers, the fakes process and (PostgreSQL) every postgres process, to show the limit.

    /work/venv/bin/python bench/bench_jobs.py [--quick] [--reps 3] [--window 8] [--threads 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    APPROVER,
    Fakes,
    bot_env,
    cpu_s,
    cpu_s_of,
    machine,
    machine_jiffies,
    mailbox,
    postgres_backends,
    postgres_schema,
    spawn,
    stop,
    table,
    write_config,
)

from approvals import Database, TenantPolicy, Workflow  # noqa: E402


@dataclass
class Run:
    backend: str
    workers: int
    jobs_per_s: float
    worker_cpu: float  # cores busy, summed over the worker processes
    fakes_cpu: float
    postgres_cpu: float
    machine_busy: float  # fraction of all cores busy
    other_cpu: float  # cores busy in processes not listed above (other sessions' work)
    analyzed: str = ""  # PostgreSQL: whether the job table had planner statistics


def populate(wf: Workflow, first: int, n: int, domains: int, mailboxes: int) -> None:
    """n approved requests, each queuing one execute job."""
    for i in range(first, first + n):
        view = wf.submit(
            tenant="acme",
            verb="disable",
            targets=[mailbox(i % mailboxes, domains)],
            reason="bench",
            requester="U0REQ",
        )
        wf.approve(view.id, actor=APPROVER)


def counts(wf: Workflow) -> dict[str, int]:
    return wf.jobs.counts()


def job_stats(wf: Workflow) -> str:
    """When PostgreSQL last analyzed ``job`` (autovacuum or ANALYZE): the claim's plan
    depends on it."""
    if wf.db.is_sqlite:
        return ""
    with wf.db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT last_analyze IS NOT NULL, last_autoanalyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'job' "
                "AND schemaname = current_schema()"
            )
        ).one()
    return "analyzed" if row[0] else "auto-analyzed" if row[1] else "never analyzed"


@contextmanager
def database(backend: str, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """A migrated database URL (``smtp-bot db upgrade``), removed afterwards."""

    def upgrade(url: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            cwd=workdir,
            env={**env, "DATABASE_URL": url},
            check=True,
            capture_output=True,
        )

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'jobs.db'}"
        upgrade(url)
        yield url
        return
    with postgres_schema() as url:
        upgrade(url)
        yield url


def one_run(
    backend: str,
    nworkers: int,
    wf: Workflow,
    workdir: Path,
    env: dict[str, str],
    fakes: Fakes,
    window: float,
) -> Run:
    procs = [
        spawn(["-m", "bot", "worker"], workdir, env, f"worker-{backend}-{nworkers}-{k}.log")
        for k in range(nworkers)
    ]
    try:
        start_done = counts(wf).get("done", 0)
        deadline = time.monotonic() + 60
        while counts(wf).get("done", 0) < start_done + 5 * nworkers:  # all have started
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start within 60 s")
            time.sleep(0.1)
        time.sleep(1.0)
        pids = [p.pid for p in procs]
        backends = postgres_backends(pids) if backend == "postgresql" else []
        me = os.getpid()

        def sample() -> tuple[float, float, float, float, tuple[int, int]]:
            return (
                cpu_s_of(pids),
                cpu_s(fakes.proc.pid),
                cpu_s_of(backends),
                cpu_s(me),
                machine_jiffies(),
            )

        stats = job_stats(wf)
        c0 = sample()
        d0, t0 = counts(wf).get("done", 0), time.monotonic()
        time.sleep(window)
        d1, t1 = counts(wf).get("done", 0), time.monotonic()
        c1 = sample()
        if counts(wf).get("queued", 0) == 0:
            raise RuntimeError("the queue ran dry during the window: raise the pool size")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            stop(proc)
    elapsed = t1 - t0
    busy = (c1[4][0] - c0[4][0]) / max(1, c1[4][1] - c0[4][1])
    workers, fake, pg, mine = ((c1[i] - c0[i]) / elapsed for i in range(4))
    other = busy * (os.cpu_count() or 1) - workers - fake - pg - mine
    jobs_per_s = (d1 - d0) / elapsed
    return Run(backend, nworkers, jobs_per_s, workers, fake, pg, busy, max(0.0, other), stats)


def bench_backend(
    backend: str, fakes: Fakes, reps: int, window: float, threads: int, pool: int, analyze: bool
) -> list[Run]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-jobs-{backend}-"))
    config = write_config(workdir, fakes.whm_url)
    base_env = bot_env(fakes, config, SMTP_BOT_WORKER_THREADS=str(threads))
    base_env |= {"SMTP_BOT_WORKER_POLL": "1", "SMTP_BOT_HOUSEKEEPING_INTERVAL": "5"}
    runs: list[Run] = []
    with database(backend, workdir, base_env) as url:
        db = Database(url)
        wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({APPROVER})))
        try:
            t0 = time.monotonic()
            populate(wf, 0, pool, fakes.domains, fakes.mailboxes)
            print(
                f"  {backend}: queued {pool} approved requests in {time.monotonic() - t0:.1f} s",
                flush=True,
            )
            if analyze and not db.is_sqlite:
                with db.engine.begin() as conn:
                    conn.execute(sa.text("ANALYZE"))
            env = {**base_env, "DATABASE_URL": url}
            for rep in range(reps):
                for nworkers in (1, 3) if rep % 2 == 0 else (3, 1):
                    run = one_run(backend, nworkers, wf, workdir, env, fakes, window)
                    runs.append(run)
                    print(
                        f"  {backend} {nworkers} worker(s): {run.jobs_per_s:.1f} jobs/s; CPU "
                        f"cores: workers {run.worker_cpu:.2f}, fakes {run.fakes_cpu:.2f}, "
                        f"postgres backends {run.postgres_cpu:.2f}, other processes "
                        f"{run.other_cpu:.2f}; machine {run.machine_busy:.0%} busy"
                        + (f"; job table {run.analyzed}" if run.analyzed else ""),
                        flush=True,
                    )
            final = counts(wf)
            with db.engine.connect() as conn:
                statuses = dict(
                    conn.execute(
                        sa.text("SELECT status, count(*) FROM change_request GROUP BY 1")
                    ).all()
                )
            print(f"  {backend}: jobs {final}; requests {statuses}", flush=True)
        finally:
            db.dispose()
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 rep, 4 s window")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured per run")
    parser.add_argument("--threads", type=int, default=4, help="SMTP_BOT_WORKER_THREADS")
    parser.add_argument("--whm-latency", type=float, default=0.05)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pool", type=int, default=0, help="jobs queued per backend (0: auto)")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="PostgreSQL: ANALYZE after queuing (else autovacuum decides when)",
    )
    args = parser.parse_args()
    if args.quick:
        args.reps, args.window = 1, 4.0
    # a generous bound of what the runs consume: ~6 jobs/s per thread, plus start-up
    pool = args.pool or int(args.reps * (1 + 3) * args.threads * 7 * (args.window + 4))
    print(
        f"# jobs/s: {args.threads} thread(s) per worker (SMTP_BOT_WORKER_THREADS), WHM "
        f"{args.whm_latency * 1000:.0f} ms/call, {args.window:.0f} s window, {args.reps} "
        f"rep(s), {pool} jobs queued per database"
        + ("; ANALYZE after queuing" if args.analyze else "")
        + f"; {machine()}",
        flush=True,
    )
    runs: list[Run] = []
    with Fakes(whm_latency=args.whm_latency, mailboxes=1000) as fakes:
        for backend in args.backends.split(","):
            runs += bench_backend(
                backend, fakes, args.reps, args.window, args.threads, pool, args.analyze
            )
    rows = []
    for backend in args.backends.split(","):
        one = [r for r in runs if r.backend == backend and r.workers == 1]
        three = [r for r in runs if r.backend == backend and r.workers == 3]
        m1 = statistics.median(r.jobs_per_s for r in one)
        m3 = statistics.median(r.jobs_per_s for r in three)
        ratio = m3 / m1
        rows.append(
            [
                backend,
                f"{m1:.1f}",
                f"{m3:.1f}",
                f"**{ratio:.2f}x**",
                "yes" if ratio >= 2.5 else "**no**",
                f"{statistics.median(r.worker_cpu for r in one):.2f} / "
                f"{statistics.median(r.worker_cpu for r in three):.2f}",
                f"{statistics.median(r.postgres_cpu for r in three):.2f}",
                f"{statistics.median(r.other_cpu for r in three):.2f}",
                f"{statistics.median(r.machine_busy for r in three):.0%}",
            ]
        )
    headers = [
        "database",
        "1 worker jobs/s",
        "3 workers jobs/s",
        "ratio 3/1",
        "≥ 2.5x",
        "worker CPU cores (1 / 3)",
        "PG backends CPU (3)",
        "other processes CPU (3)",
        "machine busy (3)",
    ]
    print(f"\nMedians over {args.reps} rep(s), {args.threads} threads per worker:\n")
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
