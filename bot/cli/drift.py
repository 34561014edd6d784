"""``smtp-bot drift-check``: one drift pass now, of every change still in force.

What housekeeping does every ``drift_check_interval``, at once and for every target, due or
not: after fixing a back end by hand, or to see that the checks work. Drift it finds is posted
in Slack exactly as the running bot posts it (once: a drift already told is not told again).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli.args import EXIT_STATUS, HelpFormatter
from bot.errors import CommandError

if TYPE_CHECKING:
    from bot.runtime import Runtime

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "drift-check",
        help="read back every change still in force now, and post any drift",
        description="Run one drift pass now: read back every target of every executed "
        "change still in force (tenants with drift_check_interval off or dry_run are left "
        "out), record what changed outside the bot in the audit trail, and post each new "
        "drift in the card's thread and the tenant's channel with a Re-apply button.",
        epilog=EXIT_STATUS,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--tenant", help="only this tenant")


def run(args: argparse.Namespace, rt: Runtime) -> int:
    from bot.running.serving import drift_checker

    checker = drift_checker(rt)
    if args.tenant is not None:
        rt.tenants.get(args.tenant)  # an unknown tenant is refused by name
        if args.tenant not in checker.intervals():
            raise CommandError(f"Drift checks are off for {args.tenant}.")
    report = checker.run_pass(force=True, tenant=args.tenant)
    if report is None:  # not possible in a fresh process; said rather than assumed
        raise CommandError("A drift pass is already running in this process.")
    sys.stdout.write(
        f"{report.checked} checked, {report.detected} drifted, {report.resolved} right "
        f"again, {report.unread} not read; {report.told} notice(s) posted\n"
    )
    return 0
