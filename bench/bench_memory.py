"""Benchmark: resident memory (VmRSS) of ``smtp-bot serve`` idle and under the ack load.

Starts the same set-up as bench_slack_ack.py (fakes, ours, the bare Bolt app), reads VmRSS
from /proc/PID/status idle (5 s after /healthz answered), then runs the load of
bench_slack_ack.py (concurrency 1, 10 and 50, ``--requests`` each, ours and bare) while a
thread samples the processes every 100 ms; reports the maximum under load and the value
5 s after the load and its after-ack work finished. Ours is two processes (serve and the
worker process it starts): each is reported, and their sum sampled at the same instant.

    /work/venv/bin/python bench/bench_memory.py [--quick] [--requests 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import family, machine, rss_mib, table  # noqa: E402
from bench_slack_ack import LEVELS, Apps, block_line, run  # noqa: E402


def rss_of(pids: list[int]) -> float:
    return sum(rss_mib(pid) for pid in pids)


class Sampler:
    """Max VmRSS per name (the sum over its PIDs), sampled on a thread."""

    def __init__(self, pids: dict[str, list[int]], every_s: float = 0.1) -> None:
        self.pids = pids
        self.every_s = every_s
        self.peak = {name: 0.0 for name in pids}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            for name, group in self.pids.items():
                self.peak[name] = max(self.peak[name], rss_of(group))
            self.samples += 1

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 requests per level")
    parser.add_argument("--requests", type=int, default=1000, help="per app and level")
    parser.add_argument("--whm-latency", type=float, default=0.05)
    args = parser.parse_args()
    if args.quick:
        args.requests = 300
    print(
        f"# RSS: load of bench_slack_ack ({args.requests} requests per app and level "
        f"{LEVELS}); {machine()}",
        flush=True,
    )
    apps = Apps(Path(tempfile.mkdtemp(prefix="bench-mem-")), args.whm_latency)
    try:
        serve, child = family(apps.ours_proc.pid)  # exactly one worker process
        pids = {
            "ours": [serve, child],
            "serve": [serve],
            "worker": [child],
            "bare": [apps.bare_proc.pid],
        }
        time.sleep(5)
        idle = {name: rss_of(group) for name, group in pids.items()}
        with Sampler(pids) as sampler:
            blocks = run(
                args.requests,
                1,
                LEVELS,
                args.whm_latency,
                on_block=lambda b: print(block_line(b), flush=True),
                apps=apps,
            )
        time.sleep(5)
        after = {name: rss_of(group) for name, group in pids.items()}
        sent = sum(len(b.latencies) for b in blocks if b.app == "ours")
    finally:
        apps.close()
    labels = {
        "ours": "`smtp-bot serve`, both processes",
        "serve": "  serve (acks)",
        "worker": "  its worker process",
        "bare": "bare Bolt app",
    }
    rows = [
        [label, f"{idle[name]:.1f}", f"{sampler.peak[name]:.1f}", f"{after[name]:.1f}"]
        for name, label in labels.items()
    ]
    print(
        f"\n{sent} commands to each app (+50 warm-up), {sampler.samples} samples every "
        f"{sampler.every_s * 1000:.0f} ms:\n"
    )
    print(table(["process", "idle MiB", "max under load MiB", "5 s after load MiB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
