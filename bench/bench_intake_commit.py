"""Benchmark: the intake commit alone, the one database write a listener makes before its ack.

``IntakeQueue.accept`` (one INSERT … ON CONFLICT DO NOTHING RETURNING id, committed) is timed
from N threads at once (closed loop, concurrency 1, 10 and 50, as the ack bench), on a SQLite
file (WAL, as ``serve`` opens it) and on a fresh PostgreSQL schema, with payloads the size of
a real slash command's stored task (~700 bytes). Each rep starts from an empty table.

    .venv/bin/python bench/bench_intake_commit.py [--requests 2000] [--reps 3]
        [--databases sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import machine, percentile, postgres_schema, table  # noqa: E402

from approvals import Database  # noqa: E402
from approvals.intake import IntakeQueue  # noqa: E402

LEVELS = (1, 10, 50)


def payload(n: int) -> str:
    """A stored command task as the listener writes it (token removed)."""
    args = {
        "team_id": "T0BENCH",
        "team_domain": "bench",
        "channel_id": "C0OPS",
        "channel_name": "ops",
        "user_id": f"U0BENCH{n % 50:02d}",
        "user_name": "bench",
        "command": "/smtp",
        "text": f'disable acme user{n}@domain{n % 20}.test --reason "spam outbreak"',
        "api_app_id": "A0BENCH",
        "is_enterprise_install": "false",
        "response_url": f"https://hooks.slack.test/commands/T0BENCH/{n}/{uuid.uuid4().hex}",
        "trigger_id": f"{n}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
    }
    return json.dumps({"kind": "command", "args": args, "request_id": uuid.uuid4().hex[:12]})


@contextmanager
def database(kind: str) -> Iterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'smtp-bot.db'}")
            db.upgrade()
            yield db
            db.dispose()
        return
    with postgres_schema() as url:
        db = Database(url)
        db.upgrade()
        yield db
        db.dispose()


def block(queue: IntakeQueue, concurrency: int, n: int, start: int) -> list[float]:
    """n accepts from ``concurrency`` threads; each latency in seconds."""
    bodies = [(f"command:bench-{start + i}", payload(start + i)) for i in range(n)]
    latencies: list[float] = []
    lock = threading.Lock()
    cursor = iter(bodies)

    def client() -> None:
        mine: list[float] = []
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            key, body = item
            t0 = time.perf_counter()
            queue.accept(kind="command", payload=body, dedupe_key=key)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per database, level, rep")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"# intake commit: {args.requests} accepts per block, {args.reps} rep(s); {machine()}")
    rows = []
    for kind in args.databases.split(","):
        results: dict[int, list[tuple[float, float]]] = {level: [] for level in LEVELS}
        for rep in range(args.reps):
            with database(kind) as db:
                pool_size = getattr(db.engine.pool, "size", lambda: 0)()
                queue = IntakeQueue(db)
                block(queue, 5, 100, start=-1000)  # warm-up: connections, statement cache
                for i, level in enumerate(LEVELS):
                    lat = block(queue, level, args.requests, start=i * args.requests)
                    p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000
                    results[level].append((p50, p99))
                    print(
                        f"{kind} rep {rep + 1} c={level}: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
                        f"(pool {pool_size})",
                        flush=True,
                    )
        for level in LEVELS:
            p50 = statistics.median(r[0] for r in results[level])
            p99 = statistics.median(r[1] for r in results[level])
            rows.append((kind, level, f"{p50:.2f}", f"{p99:.2f}"))
    print()
    print(f"Medians over {args.reps} rep(s):\n")
    print(table(("database", "concurrency", "p50 ms", "p99 ms"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
