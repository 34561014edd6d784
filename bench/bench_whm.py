"""Benchmark: one WHM apply() over 1,000 mailboxes, concurrent vs one call at a time.

Runs the real WhmProvider (httpx, thread pool) against the loopback FakeWhm, which sleeps
``--latency`` (default 50 ms) per request as a stand-in for a remote cpsrvd. Each run uses a
fresh fake and a fresh provider, so connection set-up is included. The sequential baseline is
the same provider with ``max_concurrency=1``, MEASURED on ``--baseline`` mailboxes (default
100) and EXTRAPOLATED by HTTP call count to ``--mailboxes`` (every call costs the same).

    /work/venv/bin/python bench/bench_whm.py [--concurrency 48] [--runs 3] [--sweep 8,32,64]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from providers.targets import Target, Verb  # noqa: E402
from providers.whm import WhmProvider, WhmSettings  # noqa: E402
from tests.fakes.whm import FakeWhm  # noqa: E402


def _run(mailboxes: int, domains: int, latency: float, concurrency: int) -> tuple[float, int]:
    """Seconds for one apply(DISABLE) over ``mailboxes`` addresses, and HTTP calls made."""
    with FakeWhm(latency_s=latency) as fake:
        for d in range(domains):
            fake.add_account(f"user{d}", f"d{d}.example")
        targets = []
        for n in range(mailboxes):
            address = f"box{n}@d{n % domains}.example"
            fake.add_mailbox(address)
            targets.append(Target.parse(address))
        settings = WhmSettings(fake.url, fake.username, fake.token, max_concurrency=concurrency)
        with WhmProvider(settings) as provider:
            started = time.perf_counter()
            results = provider.apply(Verb.DISABLE, targets)
            elapsed = time.perf_counter() - started
        failed = [r.message for r in results if not r.ok]
        if failed or any(fake.mailbox_state(t.name)["suspended_outgoing"] != 1 for t in targets):
            raise SystemExit(f"benchmark run failed: {failed[:3]}")
        return elapsed, len(fake.calls)


def _median(
    runs: int, mailboxes: int, domains: int, latency: float, concurrency: int
) -> tuple[float, int, list[float]]:
    times, calls = [], 0
    for _ in range(runs):
        elapsed, calls = _run(mailboxes, domains, latency, concurrency)
        times.append(elapsed)
    return statistics.median(times), calls, times


def _fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=48, help="max_concurrency")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=int, default=100, help="sequential sample size")
    parser.add_argument("--sweep", default="", help="extra max_concurrency values, e.g. 8,32")
    args = parser.parse_args()

    print(
        f"machine: {platform.system()} {platform.release()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; latency {args.latency * 1000:.0f} ms/call, "
        f"{args.mailboxes} mailboxes in {args.domains} domains, {args.runs} runs each"
    )
    n, d, lat = args.mailboxes, args.domains, args.latency
    levels = [args.concurrency] + [int(c) for c in args.sweep.split(",") if c]
    best = None
    for level in levels:
        median, calls, times = _median(args.runs, n, d, lat, level)
        best = best or (median, calls)
        print(
            f"concurrent  max_concurrency={level:<3d} {n} mailboxes: median {median:6.2f} s "
            f"({calls} calls, {calls / median:5.0f} calls/s; runs {_fmt(times)})"
        )
    base_n = min(args.baseline, n)
    base_median, base_calls, times = _median(args.runs, base_n, min(d, base_n), lat, 1)
    assert best is not None
    projected = base_median * best[1] / base_calls  # same calls, one at a time
    print(
        f"sequential  max_concurrency=1   {base_n} mailboxes: median {base_median:6.2f} s "
        f"({base_calls} calls, {base_calls / base_median:5.0f} calls/s; "
        f"runs {_fmt(times)})"
    )
    print(
        f"sequential  extrapolated by call count to {n} mailboxes ({best[1]} calls): "
        f"{projected:.1f} s; "
        f"speed-up at max_concurrency={args.concurrency}: {projected / best[0]:.1f}x"
    )


if __name__ == "__main__":
    main()
