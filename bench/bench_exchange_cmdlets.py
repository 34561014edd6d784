"""Benchmark: Exchange bulk disable over WinRM with a cost per cmdlet, at 1, 2, 4, 8 sessions.

The real ExchangeProvider and pywinrm against the loopback fake WinRM host, whose Exchange model
(tests/fakes/exchange_emulator.py) charges every cmdlet exchange.ps1 runs: one
Connect-ExchangeOnline and one Get-TransportConfig per session, then per mailbox Get-CASMailbox
(resolve), Set-CASMailbox (change) and Get-CASMailbox (read back). Costs are real sleeps, taken
outside the tenant's lock, so parallel sessions overlap as on a real host. ``--sessions`` is the
tenant's ``max_concurrency``; the provider splits a batch over that many WinRM commands (at
least 25 mailboxes each). WinRM timeouts are the production defaults (read 60 s, operation 50 s,
command 900 s), so a run that a real host could not finish in time fails here too.

    .venv/bin/python bench/bench_exchange_cmdlets.py [--mailboxes 1000] [--sessions 1 2 4 8]
        [--reps 1] [--connect 5] [--cas 0.3] [--transport 0.3] [--startup 0.2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from providers.exchange_sessions import session_chunks  # noqa: E402
from providers.targets import Target, Verb  # noqa: E402
from tests.fakes.exchange_costs import CmdletCosts  # noqa: E402
from tests.fakes.exchange_emulator import FakeExchangeOrg  # noqa: E402
from tests.fakes.winrm_host import FakeWinRMHost, provider_for  # noqa: E402


def _model_s(args: argparse.Namespace, targets: list[Target], sessions: int) -> float:
    """What the cost model predicts: the slowest session's start-up, connect and cmdlets."""
    largest = max(len(c) for c in session_chunks(targets, sessions))
    return args.startup + args.connect + args.transport + largest * 3 * args.cas


def _one(args: argparse.Namespace, sessions: int) -> dict[str, object]:
    costs = CmdletCosts(
        connect=args.connect,
        get_transport=args.transport,
        set_transport=args.transport,
        get_cas=args.cas,
        set_cas=args.cas,
    )
    org = FakeExchangeOrg(costs=costs)
    targets = [
        Target.parse(org.add_mailbox(f"user{i:04d}@contoso.com").upn) for i in range(args.mailboxes)
    ]
    walls: list[float] = []
    with FakeWinRMHost(org, command_delay_s=args.startup) as host:
        provider = provider_for(
            host,
            max_concurrency=sessions,
            read_timeout_s=60,
            operation_timeout_s=50,
            command_timeout_s=args.command_timeout,
        )
        for _ in range(args.reps):
            for box in org.mailboxes:
                box.smtp_auth_disabled = None
            start = time.perf_counter()
            results = provider.apply(Verb.DISABLE, targets)
            walls.append(time.perf_counter() - start)
            errors = Counter(r.message for r in results if not r.ok)
        verified = sum(r.ok for r in results)
        commands = host.commands // args.reps
        counts = org.clock.counts()
    return {
        "sessions": sessions,
        "commands": commands,
        "wall": statistics.median(walls),
        "walls": walls,
        "model": _model_s(args, targets, sessions),
        "verified": verified,
        "errors": errors,
        "counts": {k: v // args.reps for k, v in counts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--reps", type=int, default=1, help="runs per setting (median shown)")
    parser.add_argument("--connect", type=float, default=5.0, help="s per Connect-ExchangeOnline")
    parser.add_argument("--cas", type=float, default=0.3, help="s per Get-/Set-CASMailbox")
    parser.add_argument("--transport", type=float, default=0.3, help="s per Get/Set-Transport…")
    parser.add_argument("--startup", type=float, default=0.2, help="s per powershell.exe start")
    parser.add_argument("--command-timeout", type=int, default=900, help="winrm.command_timeout_s")
    args = parser.parse_args()

    rows = [_one(args, s) for s in args.sessions]
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"{args.mailboxes} mailboxes, disable; Connect-ExchangeOnline {args.connect:g} s, "
        f"Get-/Set-CASMailbox {args.cas * 1000:.0f} ms, Get-TransportConfig "
        f"{args.transport * 1000:.0f} ms, powershell.exe start {args.startup * 1000:.0f} ms, "
        f"command timeout {args.command_timeout} s; median of {args.reps} run(s)\n"
    )
    print("| sessions | WinRM commands | wall s | model s | read back | cmdlets per run | runs s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        counts = row["counts"]
        assert isinstance(counts, dict)
        cmdlets = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        walls = row["walls"]
        assert isinstance(walls, list)
        print(
            f"| {row['sessions']} | {row['commands']} | {row['wall']:.1f} | {row['model']:.1f} "
            f"| {row['verified']}/{args.mailboxes} | {cmdlets} "
            f"| {', '.join(f'{w:.1f}' for w in walls)} |"
        )
        errors = row["errors"]
        assert isinstance(errors, Counter)
        for message, n in errors.most_common(3):
            print(f"|   | failed: {n} x {message!r} | | | | | |")
    print(
        "\nmodel s = start-up + connect + Get-TransportConfig + 3 cmdlets x the largest slice "
        "(a session gets at least 25 mailboxes)"
    )


if __name__ == "__main__":
    main()
