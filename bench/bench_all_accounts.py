"""Benchmark: `/smtp disable <tenant> --all-accounts` on a server of 1,000 accounts, then the
matching enable, through the real workflow, executor and WhmProvider.

The loopback FakeWhm sleeps ``--latency`` (default 50 ms) per request, as a stand-in for a
remote cpsrvd; ``--suspended`` of the accounts (default 100) are suspended before. Runs
in-process: a SQLite database in a temporary directory, the loopback Slack fake for the card
(progress updates are counted), the provider's default batch size (100) and concurrency (8).
Each account costs two WHM calls (the change and its read-back); the listing is one call.

    .venv/bin/python bench/bench_all_accounts.py [--accounts 1000] [--suspended 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient  # noqa: E402

from approvals import Database, TenantPolicy, Workflow  # noqa: E402
from bot.commands import all_accounts  # noqa: E402
from bot.commands.grammar import parse  # noqa: E402
from bot.running.executor import Executor  # noqa: E402
from bot.slack.cards import Cards  # noqa: E402
from providers.whm import WhmProvider, WhmSettings  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.whm import FakeWhm  # noqa: E402

TOKEN = "xoxb-bench-all-accounts"


class _Tenants:
    def __init__(self, provider: WhmProvider) -> None:
        self._provider = provider

    def provider(self, _name: str) -> WhmProvider:
        return self._provider


def _request(wf: Workflow, provider: WhmProvider, cards: Cards, text: str) -> tuple[int, float]:
    started = time.perf_counter()
    view = all_accounts.submit(
        wf,
        provider,
        parse(text),
        requester="UREQ",
        intake_id=None,
        limit=None,  # type: ignore[arg-type]
    )
    elapsed = time.perf_counter() - started
    cards.post(view, "C0OPS")
    wf.approve(view.id, actor="UAPP")
    wf.approve(view.id, actor="UAPP2")
    return view.id, elapsed


def _run(accounts: int, suspended: int, latency: float) -> dict[str, object]:
    users = [f"user{i:04d}" for i in range(accounts)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeWhm(latency_s=latency) as whm,
        FakeSlack(token=TOKEN) as slack,
    ):
        for user in users:
            whm.add_account(user, f"{user}.example")
        for user in users[:suspended]:
            whm.set_account_state(user, outgoing_mail_suspended=1)
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.upgrade()
        wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP", "UAPP2"})))
        cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
        with WhmProvider(WhmSettings(whm.url, whm.username, whm.token)) as provider:
            executor = Executor(wf, _Tenants(provider), cards)  # type: ignore[arg-type]
            disable_id, submit_s = _request(wf, provider, cards, "disable acme --all-accounts")
            calls_before = len(whm.calls)
            started = time.perf_counter()
            executor.run(disable_id)
            disable_s = time.perf_counter() - started
            disable_calls = Counter(c.function for c in whm.calls[calls_before:])
            updates = len(slack.calls_to("chat.update"))
            enable_id, _ = _request(wf, provider, cards, "enable acme --all-accounts")
            calls_before = len(whm.calls)
            started = time.perf_counter()
            executor.run(enable_id)
            enable_s = time.perf_counter() - started
            enable_calls = Counter(c.function for c in whm.calls[calls_before:])
            updates = (updates, len(slack.calls_to("chat.update")) - updates)
        still = {u for u in users if whm.account_state(u)["outgoing_mail_suspended"]}
        threads = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
        if wf.get(disable_id).status.value != "succeeded" or still != set(users[:suspended]):
            raise SystemExit("benchmark run failed: wrong final state")
        db.dispose()
    return {
        "submit_s": submit_s,
        "disable_s": disable_s,
        "enable_s": enable_s,
        "disable_calls": disable_calls,
        "enable_calls": enable_calls,
        "card_updates": updates,
        "summaries": len(threads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--suspended", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.system()} {platform.release()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; latency {args.latency * 1000:.0f} ms/call, "
        f"{args.accounts} accounts ({args.suspended} suspended before), {args.runs} runs"
    )
    runs = [_run(args.accounts, args.suspended, args.latency) for _ in range(args.runs)]
    for key in ("submit_s", "disable_s", "enable_s"):
        values = [float(r[key]) for r in runs]  # type: ignore[arg-type]
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{key:10s} median {statistics.median(values):6.2f} s (runs {shown})")
    last = runs[-1]
    print(f"disable WHM calls: {dict(last['disable_calls'])}")  # type: ignore[arg-type]
    print(f"enable  WHM calls: {dict(last['enable_calls'])}")  # type: ignore[arg-type]
    disable_updates, enable_updates = last["card_updates"]  # type: ignore[misc]
    print(
        f"card updates: disable {disable_updates}, enable {enable_updates}; "
        f"thread summaries: {last['summaries']} (one per request)"
    )


if __name__ == "__main__":
    main()
