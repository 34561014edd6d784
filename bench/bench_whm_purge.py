"""Benchmark: purge 10,000 queued messages from one sender through the real WhmProvider.

The loopback FakeWhm sleeps ``--latency`` (default 50 ms) per request, and removes the
messages ``--remove-delay`` (default 0.5 s) after each remove_messages_mail_queue call, as
WHM does in the background. A second sender's 10,000 messages stay queued (the filter must
leave them). The bar (issue 15): within 30 s, in at most 25 removal calls.

    .venv/bin/python bench/bench_whm_purge.py [--messages 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from providers.targets import Target, Verb  # noqa: E402
from providers.whm import WhmProvider, WhmSettings  # noqa: E402
from tests.fakes.whm import FakeWhm  # noqa: E402


def _run(messages: int, latency: float, remove_delay: float) -> tuple[float, int, int, str]:
    """(seconds, removal calls, all WHM calls, result line) for one purge."""
    with FakeWhm(latency_s=latency) as fake:
        fake.queue.remove_delay_s = remove_delay
        fake.add_account("spammer", "spam.example")
        fake.add_mailbox("bulk@spam.example")
        fake.queue.add("bulk@spam.example", messages, recipients=("x@gmail.com",))
        fake.queue.add("other@spam.example", messages)
        settings = WhmSettings(fake.url, fake.username, fake.token)
        with WhmProvider(settings) as provider:
            started = time.perf_counter()
            [result] = provider.apply(Verb.PURGE, [Target.parse("bulk@spam.example")])
            elapsed = time.perf_counter() - started
        if not result.ok or fake.queue.count("bulk@spam.example") != 0:
            raise SystemExit(f"benchmark run failed: {result.message}")
        if fake.queue.count("other@spam.example") != messages:
            raise SystemExit("benchmark run failed: another sender's mail was removed")
        removals = len(fake.calls_to("remove_messages_mail_queue"))
        return elapsed, removals, len(fake.calls), result.message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--remove-delay", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [_run(args.messages, args.latency, args.remove_delay) for _ in range(args.runs)]
    seconds = [r[0] for r in runs]
    elapsed, removals, calls, message = runs[-1]
    print(
        f"purge of {args.messages:,} queued messages (+{args.messages:,} from another sender), "
        f"{args.latency * 1000:.0f} ms per WHM call, removal lands {args.remove_delay:g}s later"
    )
    print(f"result: {message}")
    print(f"removal calls: {removals} (bar: <= 25); all WHM calls: {calls}")
    print(
        f"seconds: median {statistics.median(seconds):.2f}, max {max(seconds):.2f} "
        f"over {len(seconds)} runs (bar: <= 30)"
    )
    if removals > 25 or max(seconds) > 30:
        raise SystemExit("over the bar")


if __name__ == "__main__":
    main()
