"""Benchmark: batched Exchange apply (one WinRM command) vs one command per mailbox.

Runs the real ExchangeProvider and pywinrm against the loopback fake WinRM host, which adds a
fixed delay per command to stand in for powershell.exe start-up + Connect-ExchangeOnline.
The per-mailbox baseline is MEASURED on a subset (default 20 mailboxes) and EXTRAPOLATED
linearly to 100 and 1,000 (each of its commands is independent); pass --full-baseline to
measure it completely (slow: ~N x delay).

    /work/venv/bin/python bench/bench_exchange.py [--delay 0.2] [--reps 5] [--full-baseline]

The fixed delay charges nothing per cmdlet, so its bulk figure says little about a real host.
``--cmdlet-delay 0.3`` adds an honest model: every Get-/Set-CASMailbox and Get-/Set-
TransportConfig inside the script costs that much (a round trip to Exchange Online). It then
measures ``--model-mailboxes`` (default 20) in 1, 2 and 4 parallel sessions (the list split
into that many apply() calls at once, each its own WinRM command and Connect-ExchangeOnline)
and EXTRAPOLATES to 1,000 (cmdlets cost the same each; the fixed delay is paid once per
session):

    .venv/bin/python bench/bench_exchange.py --cmdlet-delay 0.3 --reps 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from providers.exchange import ExchangeProvider  # noqa: E402
from providers.targets import Target, Verb  # noqa: E402
from tests.fakes.exchange_emulator import FakeExchangeOrg  # noqa: E402
from tests.fakes.winrm_host import FakeWinRMHost, provider_for  # noqa: E402

SIZES = (1, 100, 1000)


def _reset(org: FakeExchangeOrg) -> None:
    for box in org.mailboxes:
        box.smtp_auth_disabled = None


def _timed(host: FakeWinRMHost, run: Callable[[], None]) -> tuple[float, int, int]:
    """(seconds, WinRM commands, Connect-ExchangeOnline calls) for one callable."""
    commands, connects = host.commands, host.org.calls.connects
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    return elapsed, host.commands - commands, host.org.calls.connects - connects


def _bulk(host: FakeWinRMHost, provider: ExchangeProvider, targets: list[Target]) -> None:
    results = provider.apply(Verb.DISABLE, targets)
    if not all(r.ok for r in results):
        raise SystemExit(f"bulk run failed: {results[0].message}")


def _one_by_one(provider: ExchangeProvider, targets: list[Target]) -> None:
    for target in targets:
        (result,) = provider.apply(Verb.DISABLE, [target])
        if not result.ok:
            raise SystemExit(f"per-mailbox run failed: {result.message}")


def _sessions(host: FakeWinRMHost, targets: list[Target], sessions: int) -> float:
    """Seconds to disable ``targets`` split over ``sessions`` apply() calls running at once."""
    _reset(host.org)
    provider = provider_for(host, max_concurrency=sessions, command_timeout_s=3600)
    parts = [targets[i::sessions] for i in range(sessions)]
    start = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        for results in pool.map(lambda part: provider.apply(Verb.DISABLE, part), parts):
            if not all(r.ok for r in results):
                raise SystemExit(f"model run failed: {results[0].message}")
    return time.perf_counter() - start


def _cmdlet_model(args: argparse.Namespace) -> None:
    """The per-cmdlet model: measured on a subset, extrapolated to 1,000 mailboxes."""
    org = FakeExchangeOrg()
    n = args.model_mailboxes
    targets = [Target.parse(org.add_mailbox(f"user{i:04d}@contoso.com").upn) for i in range(n)]
    org.cmdlet_delay_s = args.cmdlet_delay
    print(
        f"\nper-cmdlet model: {args.cmdlet_delay * 1000:.0f} ms per cmdlet inside the script, "
        f"{args.delay * 1000:.0f} ms per WinRM command; measured on {n} mailboxes\n"
    )
    print("| sessions | measured s | per mailbox s | 1,000 mailboxes (extrapolated) |")
    print("|---|---|---|---|")
    with FakeWinRMHost(org, command_delay_s=args.delay) as host:
        for sessions in (1, 2, 4):
            seconds = statistics.median(
                _sessions(host, targets, sessions) for _ in range(args.reps)
            )
            fixed = args.delay + args.cmdlet_delay  # per session: command + Get-TransportConfig
            per = (seconds - fixed) / n
            print(
                f"| {sessions} | {seconds:.2f} | {per:.3f} | "
                f"{per * 1000 + fixed:.0f} s ({(per * 1000 + fixed) / 60:.1f} min) |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="fixed seconds per command")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument("--subset", type=int, default=20, help="baseline mailboxes measured")
    parser.add_argument("--full-baseline", action="store_true", help="measure all sizes")
    parser.add_argument("--cmdlet-delay", type=float, default=0.0, help="seconds per cmdlet")
    parser.add_argument("--model-mailboxes", type=int, default=20)
    args = parser.parse_args()
    if args.cmdlet_delay:
        _cmdlet_model(args)
        return

    org = FakeExchangeOrg()
    targets = [Target.parse(org.add_mailbox(f"user{i:04d}@contoso.com").upn) for i in range(1000)]
    rows = []
    with FakeWinRMHost(org, command_delay_s=args.delay) as host:
        provider = provider_for(host, max_concurrency=2)
        for size in SIZES:
            bulk = []
            for _ in range(args.reps):
                _reset(org)
                bulk.append(_timed(host, lambda n=size: _bulk(host, provider, targets[:n])))
            measured = size if (args.full_baseline or size <= args.subset) else args.subset
            base = []
            for _ in range(args.reps if measured <= args.subset else 1):
                _reset(org)
                base.append(_timed(host, lambda n=measured: _one_by_one(provider, targets[:n])))
            bulk_s = statistics.median(b[0] for b in bulk)
            base_s = statistics.median(b[0] for b in base) * size / measured
            rows.append(
                (size, bulk[0][1], bulk[0][2], bulk_s, base[0][1] * size // measured, base_s,
                 "measured" if measured == size else f"extrapolated from {measured}")
            )  # fmt: skip

    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"fixed delay per command: {args.delay * 1000:.0f} ms, median of {args.reps} runs\n")
    head = ("mailboxes", "bulk cmds", "connects", "bulk s", "per-mbx cmds", "per-mbx s", "ratio")
    print("| " + " | ".join(head) + " | baseline |")
    print("|" + "---|" * (len(head) + 1))
    for size, cmds, connects, bulk_s, base_cmds, base_s, how in rows:
        print(
            f"| {size} | {cmds} | {connects} | {bulk_s:.3f} | {base_cmds} | {base_s:.2f} "
            f"| {base_s / bulk_s:.1f}x | {how} |"
        )


if __name__ == "__main__":
    main()
