"""Benchmark: ``/smtp top`` over 100,000 tracked deliveries and 20,000 queued messages.

The real WhmProvider reads the loopback FakeWhm, which sleeps ``--latency`` (default 50 ms)
per request; the answer is then drawn as the bot draws it (bot/slack/top_view.py). The
outbreak: a stolen password (40,000 messages, a third deferred), a PHP script (15,000), and
45,000 messages from 2,000 ordinary mailboxes of 200 accounts, all in the last hour; 20,000
messages queued. The bar (issue 15): within 5 s, in at most 5 WHM calls.

    .venv/bin/python bench/bench_whm_top.py [--deliveries 100000] [--queued 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.slack.top_view import top_message  # noqa: E402
from providers.whm import WhmProvider, WhmSettings  # noqa: E402
from tests.fakes.whm import FakeWhm  # noqa: E402


def _seed(fake: FakeWhm, deliveries: int, queued: int) -> None:
    rng = random.Random(15)
    now = int(time.time())
    t = fake.tracking

    def when() -> int:
        return now - rng.randrange(3500)

    spam, script = int(deliveries * 0.4), int(deliveries * 0.15)
    for _ in range(spam):
        kind = "defer" if rng.random() < 0.33 else "success"
        t.add("info@victim.example", user="victim", kind=kind, ip="203.0.113.66", when=when())
    for _ in range(script):
        t.add("wpsite", user="wpsite", domain="wp.example", auth="localuser", when=when())
    for _ in range(deliveries - spam - script):
        n = rng.randrange(2000)
        account = f"acct{n % 200:03d}"
        t.add(f"user{n}@{account}.example", user=account, ip=f"198.51.100.{n % 250}", when=when())
    t.reached_max_emails.add("victim.example")
    fake.queue.add("info@victim.example", int(queued * 0.75))
    fake.queue.add("wordpress@wp.example", int(queued * 0.15))
    fake.queue.add("user7@acct007.example", queued - int(queued * 0.75) - int(queued * 0.15))


def _run(fake: FakeWhm, limit: int) -> tuple[float, float, int, str]:
    """(seconds to the report, seconds to the drawn answer, WHM calls, first row)."""
    fake.calls.clear()
    settings = WhmSettings(fake.url, fake.username, fake.token)
    with WhmProvider(settings) as provider:
        started = time.perf_counter()
        report = provider.top(3600, limit)
        read = time.perf_counter() - started
        text, blocks = top_message("bench", report, timedelta(hours=1))
        drawn = time.perf_counter() - started
    if len(blocks) > 50 or not report.rows:
        raise SystemExit("benchmark run failed: no rows, or more than 50 blocks")
    worst = "; ".join(
        f"{r.target} sent {'~' if r.estimated else ''}{r.sent:,} ({r.auth}, {r.queued:,} queued)"
        for r in report.rows[:3]
    )
    return read, drawn, len(fake.calls), worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--queued", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with FakeWhm(latency_s=args.latency) as fake:
        _seed(fake, args.deliveries, args.queued)
        runs = [_run(fake, args.limit) for _ in range(args.runs)]
    drawn = [r[1] for r in runs]
    read, _, calls, first = runs[-1]
    print(
        f"top over {args.deliveries:,} tracked deliveries and {args.queued:,} queued messages, "
        f"{args.latency * 1000:.0f} ms per WHM call, {args.limit} rows"
    )
    print(f"worst three: {first}")
    print(f"WHM calls: {calls} (bar: <= 5)")
    print(
        f"seconds to the drawn answer: median {statistics.median(drawn):.2f}, "
        f"max {max(drawn):.2f} over {len(drawn)} runs (bar: <= 5); "
        f"of which reading WHM {read:.2f} in the last run"
    )
    if calls > 5 or max(drawn) > 5:
        raise SystemExit("over the bar")


if __name__ == "__main__":
    main()
