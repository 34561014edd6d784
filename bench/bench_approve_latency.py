"""Benchmark: Approve click → state-changing WHM call, through the real ``smtp-bot serve``.

Requests are made the way people make them (signed ``/smtp disable`` commands; the bot
posts each card to the loopback fake Slack), then an approver presses Approve on each, one
press at a time (signed ``block_actions``). The clock runs from just before the press is sent
until the fake WHM receives ``uapi_cpanel`` ``Email::suspend_outgoing`` for that mailbox (the
fake stamps its arrival with CLOCK_MONOTONIC, before its own latency, in its process; the
clock is system-wide). The in-process worker runs the job (serve's default). Before the
suspend the provider makes one ``getdomainowner`` call, so one WHM latency is included.

    /work/venv/bin/python bench/bench_approve_latency.py [--quick] [--approvals 200] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    APPROVER,
    Fakes,
    approve_body,
    bot_env,
    command_body,
    launch_serve,
    machine,
    mailbox,
    percentile,
    sign,
    stop,
    table,
    write_config,
)


def make_requests(
    client: httpx.Client, url: str, fakes: Fakes, db: sa.Engine, first: int, n: int
) -> list[tuple[int, str, str]]:
    """n pending requests with posted cards: (request id, mailbox, card ts)."""
    boxes = [mailbox(i, fakes.domains) for i in range(first, first + n)]
    base = fakes.slack_base_url + "/response/"
    for i, box in enumerate(boxes, first):
        body = command_body(
            f"disable acme {box} --reason bench", user="U0REQ", response_url=f"{base}q{i}", n=i
        )
        response = client.post(url, content=body, headers=sign(body, int(time.time())))
        response.raise_for_status()
    wanted = set(boxes)
    deadline = time.monotonic() + 60
    while True:
        with db.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT r.id, t.target, r.card_ref FROM change_request r "
                    "JOIN request_target t ON t.request_id = r.id "
                    "WHERE r.status = 'pending' AND r.card_ref IS NOT NULL"
                )
            ).all()
        found = [(int(r[0]), str(r[1]), str(r[2])) for r in rows if r[1] in wanted]
        if len(found) == n:
            return sorted(found)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {len(found)} of {n} cards posted; targets look like {rows[:2]}"
            )
        time.sleep(0.2)


def settle(db: sa.Engine, request_id: int, timeout: float = 30.0) -> None:
    """Wait until the request's change is finished and its result posted in the thread: the
    last step of an approval. The clock is not running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT r.result_posted, "
                    "(SELECT count(*) FROM job j WHERE j.request_id = r.id "
                    "AND j.state IN ('queued', 'running') AND j.kind = 'execute') "
                    "FROM change_request r WHERE r.id = :id"
                ),
                {"id": request_id},
            ).one()
        if row[0] and row[1] == 0:
            return
        time.sleep(0.01)
    raise RuntimeError(f"request {request_id} did not finish within {timeout:.0f} s")


def approve_all(
    client: httpx.Client,
    url: str,
    fakes: Fakes,
    pending: list[tuple[int, str, str]],
    db: sa.Engine | None = None,
) -> list[float]:
    """Press Approve on each, one at a time; seconds from press to the suspend call. With
    ``db``, each press waits until the previous approval's work is all done (isolated)."""
    latencies = []
    for request_id, box, ts in pending:
        body = approve_body(
            request_id,
            user=APPROVER,
            message_ts=ts,
            response_url=f"{fakes.slack_base_url}/response/a{request_id}",
        )
        headers = sign(body, int(time.time()))
        t0 = time.monotonic()
        client.post(url, content=body, headers=headers).raise_for_status()
        seen = fakes.wait_suspend(box, 30)
        if seen is None:
            raise RuntimeError(f"no suspend_outgoing for {box} within 30 s")
        latencies.append(seen - t0)
        if db is not None:
            settle(db, request_id)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 approvals, 1 rep")
    parser.add_argument("--approvals", type=int, default=200, help="per rep and WHM latency")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--latencies", default="0.05,0", help="fake WHM seconds per call")
    parser.add_argument(
        "--back-to-back",
        action="store_true",
        help="press the next Approve as soon as the last suspend arrives, while the bot is "
        "still finishing that approval (redrawing the card, posting the result); by default "
        "each press waits until the previous approval is all done",
    )
    parser.add_argument(
        "--worker",
        choices=("process", "thread"),
        default="process",
        help="`serve --worker` mode (default: process, as the CLI runs it)",
    )
    args = parser.parse_args()
    if args.quick:
        args.approvals, args.reps = 50, 1
    whm_latencies = [float(x) for x in args.latencies.split(",")]
    total = args.approvals * args.reps * len(whm_latencies)
    print(
        f"# approve → provider call: {args.approvals} approvals per rep and WHM latency, "
        f"{args.reps} rep(s), one press at a time, "
        f"{'back to back' if args.back_to_back else 'each after the last is all done'}; "
        f"{machine()}",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-approve-"))
    results: dict[float, list[list[float]]] = {lat: [] for lat in whm_latencies}
    with Fakes(whm_latency=whm_latencies[0], mailboxes=total + 10) as fakes:
        env = bot_env(fakes, write_config(workdir, fakes.whm_url))
        proc, base = launch_serve(workdir, env, "--worker", args.worker)
        db = sa.create_engine(f"sqlite:///{workdir / 'smtp-bot.db'}")
        try:
            url = base + "/slack/events"
            first = 0
            with httpx.Client(timeout=30) as client:
                warm = make_requests(client, url, fakes, db, first, 10)
                approve_all(client, url, fakes, warm)
                first += 10
                for rep in range(args.reps):
                    for latency in whm_latencies:
                        fakes.set_latency(latency)
                        pending = make_requests(client, url, fakes, db, first, args.approvals)
                        first += args.approvals
                        lat = approve_all(
                            client, url, fakes, pending, None if args.back_to_back else db
                        )
                        results[latency].append(lat)
                        print(
                            f"  rep {rep + 1} WHM {latency * 1000:.0f} ms: "
                            f"p50 {percentile(lat, 50) * 1000:.1f} ms, "
                            f"p99 {percentile(lat, 99) * 1000:.1f} ms, "
                            f"max {max(lat) * 1000:.1f} ms (n={len(lat)})",
                            flush=True,
                        )
        finally:
            db.dispose()
            stop(proc)
    rows = []
    for latency, runs in results.items():
        p50s = [percentile(r, 50) * 1000 for r in runs]
        p99s = [percentile(r, 99) * 1000 for r in runs]
        rows.append(
            [
                f"{latency * 1000:.0f}",
                sum(len(r) for r in runs),
                f"{statistics.median(p50s):.1f}",
                f"{statistics.median(p99s):.1f}",
                f"{min(p99s):.1f}–{max(p99s):.1f}",
            ]
        )
    print(f"\nMedians over {args.reps} rep(s) of {args.approvals} approvals:\n")
    headers = ["WHM ms/call", "approvals", "p50 ms", "p99 ms", "p99 range over reps"]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
