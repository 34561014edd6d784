"""Benchmark: disabling 1,000 Exchange Online mailboxes over REST, approve → every one read back.

The real workflow carries the change: ``Workflow.submit`` stores the request (1,000 targets) on
a SQLite file, the card is posted to the loopback fake Slack, then the clock starts:
``Workflow.approve`` (queues the job) and ``Executor.run`` (claims it, runs the real
ExchangeRestProvider behind the bot's ``ScrubbedProvider`` in ``batch_size`` chunks, stores each
chunk's results, redraws the card with the progress, finishes the request and posts the one
summary). The clock stops when ``Executor.run`` returns; then the fake is asked whether all
1,000 mailboxes read ``SmtpClientAuthenticationDisabled = $true``.

The fakes (Exchange REST over HTTPS with a throwaway trustme CA, and Slack's Web API) run in
their own process so their CPU does not share a GIL with the bot's side. The Exchange fake
takes ``--invoke-latency`` (300 ms) per InvokeCommand and ``--batch-latency`` (400 ms) per
$batch of up to 10 cmdlets. The baseline, one InvokeCommand per cmdlet and one mailbox at a
time, is MEASURED on ``--baseline`` mailboxes and EXTRAPOLATED linearly to 1,000.

    .venv/bin/python bench/bench_exchange_rest.py [--mailboxes 1000] [--concurrency 4,8]
        [--reps 3] [--baseline 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TENANT_ID = "8f3c0a4e-5d6b-4c2a-9e1f-0123456789ab"
SLACK_TOKEN = "xoxb-bench-exo-rest"


def _fakes_main(args: argparse.Namespace) -> int:
    """Serve the Exchange REST fake and FakeSlack until stdin closes; answer commands."""
    import trustme

    from tests.fakes.exchange_emulator import FakeExchangeOrg
    from tests.fakes.exchange_rest import FakeExchangeRest
    from tests.fakes.slack_api import FakeSlack
    from tests.fakes.whm import server_tls

    ca = trustme.CA()
    ca.cert_pem.write_to_path(args.ca_path)
    org = FakeExchangeOrg()
    for i in range(args.mailboxes):
        org.add_mailbox(f"user{i:04d}@contoso.com")
    exo = FakeExchangeRest(
        org,
        tls=server_tls(ca),
        tenant_id=TENANT_ID,
        invoke_latency_s=args.invoke_latency,
        batch_latency_s=args.batch_latency,
    ).start()
    slack = FakeSlack(token=SLACK_TOKEN).start()
    _say({"exo_url": exo.url, "token": exo.issue_token(), "slack_api_url": slack.api_url})
    for line in sys.stdin:
        command = line.strip()
        if command == "stats":
            with org.lock:
                disabled = sum(b.smtp_auth_disabled is True for b in org.mailboxes)
            with exo._lock:
                batches = sum(s.path.endswith("/$batch") for s in exo.served)
                invokes = sum(s.path.endswith("/InvokeCommand") for s in exo.served)
            _say(
                {
                    "disabled": disabled,
                    "batches": batches,
                    "invokes": invokes,
                    "max_in_flight": exo.max_in_flight,
                    "violations": len(exo.violations),
                }
            )
        elif command == "reset":
            with org.lock:
                for box in org.mailboxes:
                    box.smtp_auth_disabled = None
            with exo._lock:
                exo.served.clear()
                exo.max_in_flight = 0
            _say({"ok": True})
    exo.stop()
    slack.stop()
    return 0


def _say(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Fakes:
    """The fakes process, driven over stdin/stdout lines."""

    def __init__(self, args: argparse.Namespace, ca_path: str) -> None:
        command = [sys.executable, __file__, "fakes", "--ca-path", ca_path]
        command += ["--mailboxes", str(args.mailboxes)]
        command += ["--invoke-latency", str(args.invoke_latency)]
        command += ["--batch-latency", str(args.batch_latency)]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.info = self._read()

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class StaticTokens:
    """The token the fake issued (the login endpoint's part is resttoken's msal wiring)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def bearer(self, scope: str) -> str:
        return self.token


def _provider(fakes: Fakes, ca_path: str, concurrency: int) -> Any:
    from providers.exchange_rest import ExchangeRestProvider

    return ExchangeRestProvider(
        tenant_id=TENANT_ID,
        organization="contoso.onmicrosoft.com",
        exchange_url=fakes.info["exo_url"],
        tokens=StaticTokens(fakes.info["token"]),
        max_concurrency=concurrency,
        verify_tls=ca_path,
    )


def _end_to_end(fakes: Fakes, ca_path: str, concurrency: int, n: int, db_dir: str) -> dict:
    """One run: submit + card (untimed), then approve → executed, every mailbox read back."""
    from slack_sdk import WebClient

    from approvals import Database, TenantPolicy, Workflow
    from bot.ops.scrubbed import ScrubbedProvider
    from bot.running.executor import Executor
    from bot.slack.cards import Cards

    fakes.ask("reset")
    path = Path(db_dir) / f"bench-{concurrency}-{time.monotonic_ns()}.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})))
    cards = Cards(WebClient(token=SLACK_TOKEN, base_url=fakes.info["slack_api_url"]), wf)
    provider = ScrubbedProvider(_provider(fakes, ca_path, concurrency), [fakes.info["token"]])

    class Tenants:
        def provider(self, _name: str) -> Any:
            return provider

    executor = Executor(wf, Tenants(), cards)  # type: ignore[arg-type]
    targets = [f"user{i:04d}@contoso.com" for i in range(n)]
    view = wf.submit(
        tenant="contoso", verb="disable", targets=targets, reason="bench", requester="UREQ"
    )
    cards.post(view, "C0OPS")
    started = time.perf_counter()
    wf.approve(view.id, actor="UAPP")
    assert executor.run(view.id)
    elapsed = time.perf_counter() - started
    final = wf.get(view.id)
    provider.close()
    db.dispose()
    stats = fakes.ask("stats")
    if final.status.value != "succeeded" or stats["disabled"] != n or stats["violations"]:
        raise SystemExit(f"run failed: {final.status.value}, {stats}")
    return {"seconds": elapsed, **stats}


def _baseline(fakes: Fakes, ca_path: str, n: int) -> float:
    """One mailbox per apply(), one after another: every cmdlet its own InvokeCommand."""
    from providers.targets import Target, Verb

    fakes.ask("reset")
    provider = _provider(fakes, ca_path, 1)
    started = time.perf_counter()
    for i in range(n):
        (result,) = provider.apply(Verb.DISABLE, [Target.parse(f"user{i:04d}@contoso.com")])
        if not result.ok:
            raise SystemExit(f"baseline failed: {result.message}")
    elapsed = time.perf_counter() - started
    provider.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    fakes_args = sub.add_parser("fakes")
    fakes_args.add_argument("--ca-path", required=True)
    for p in (parser, fakes_args):
        p.add_argument("--mailboxes", type=int, default=1000)
        p.add_argument("--invoke-latency", type=float, default=0.3)
        p.add_argument("--batch-latency", type=float, default=0.4)
    parser.add_argument("--concurrency", default="4,8", help="max_concurrency values to run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--baseline", type=int, default=5, help="mailboxes one at a time")
    args = parser.parse_args()
    if args.mode == "fakes":
        return _fakes_main(args)

    with tempfile.TemporaryDirectory() as tmp:
        ca_path = str(Path(tmp) / "ca.pem")
        fakes = Fakes(args, ca_path)
        try:
            rows = []
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                runs = [
                    _end_to_end(fakes, ca_path, concurrency, args.mailboxes, tmp)
                    for _ in range(args.reps)
                ]
                rows.append((concurrency, runs))
            base = _baseline(fakes, ca_path, args.baseline) if args.baseline else 0.0
        finally:
            fakes.close()

    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"{args.mailboxes} mailboxes, {args.invoke_latency * 1000:.0f} ms per InvokeCommand, "
        f"{args.batch_latency * 1000:.0f} ms per $batch, median of {args.reps} runs\n"
    )
    head = "| max_concurrency | approve → all read back, s (median) | min | max | $batch "
    print(head + "| InvokeCommand | max in flight |")
    print("|---|---|---|---|---|---|---|")
    for concurrency, runs in rows:
        secs = [r["seconds"] for r in runs]
        last = runs[-1]
        print(
            f"| {concurrency} | {statistics.median(secs):.2f} | {min(secs):.2f} | {max(secs):.2f} "
            f"| {last['batches']} | {last['invokes']} | {last['max_in_flight']} |"
        )
    if args.baseline:
        per = base / args.baseline
        print(
            f"\none mailbox at a time (InvokeCommand per cmdlet): {per:.2f} s per mailbox, "
            f"measured on {args.baseline}; x{args.mailboxes} = {per * args.mailboxes:.0f} s "
            "(extrapolated)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
