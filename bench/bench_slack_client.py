"""Benchmark: one Slack Web API call, slack_sdk's WebClient against the bot's KeepAliveWebClient.

Both post ``chat.postMessage`` to the loopback fake Slack, one call after another from one
thread, over plain HTTP and over TLS (a certificate from a throwaway CA made with trustme,
verified by the client as Slack's would be). slack_sdk's own client opens a new connection
(and TLS session) for every call; the bot's keeps one per thread. Reported: per-call
latency p50/p99 and the CPU the calling process spends per call. The fake runs in this
process, so its CPU is in the CPU figure for both clients alike; on loopback there is no
network round trip, so a real Slack connection saves more per call than this shows.

    /work/venv/bin/python bench/bench_slack_client.py [--calls 500] [--reps 3]
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import trustme  # noqa: E402
from _harness import machine, percentile, table  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bot.slack.http_client import KeepAliveWebClient  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

TOKEN = "xoxb-bench-client"


def fake_slack(tls: trustme.CA | None) -> FakeSlack:
    fake = FakeSlack(token=TOKEN)
    if tls is not None:
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.issue_cert("127.0.0.1").configure_cert(server_ctx)
        fake._server.socket = server_ctx.wrap_socket(fake._server.socket, server_side=True)
    return fake.start()


def run_calls(client: WebClient, calls: int) -> tuple[list[float], float]:
    """(latencies, CPU seconds of this process) for ``calls`` posts on a fresh thread."""
    out: dict[str, object] = {}

    def work() -> None:
        client.chat_postMessage(channel="C1", text="warm-up")
        latencies = []
        cpu0 = time.process_time()
        for i in range(calls):
            t0 = time.perf_counter()
            client.chat_postMessage(channel="C1", text=f"call {i}")
            latencies.append(time.perf_counter() - t0)
        out["cpu"] = time.process_time() - cpu0
        out["latencies"] = latencies

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return out["latencies"], out["cpu"]  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"# one Slack call: {args.calls} calls per client, transport and rep; {machine()}")
    ca = trustme.CA()
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for transport in ("http", "https"):
        fake = fake_slack(ca if transport == "https" else None)
        base = transport + fake.api_url.removeprefix("http")
        try:
            for rep in range(args.reps):
                kinds = ("urllib", "keep-alive") if rep % 2 == 0 else ("keep-alive", "urllib")
                for kind in kinds:
                    cls = WebClient if kind == "urllib" else KeepAliveWebClient
                    ctx = client_ctx if transport == "https" else None
                    client = cls(token=TOKEN, base_url=base, ssl=ctx, retry_handlers=[])
                    before = fake.connections
                    latencies, cpu = run_calls(client, args.calls)
                    opened = fake.connections - before
                    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
                    results.setdefault((transport, kind), []).append((p50, p99, cpu))
                    print(
                        f"  {transport:5} {kind:10} rep {rep + 1}: p50 {p50 * 1000:.2f} ms, "
                        f"p99 {p99 * 1000:.2f} ms, CPU {cpu / args.calls * 1000:.2f} ms/call, "
                        f"{opened} connection(s)",
                        flush=True,
                    )
        finally:
            fake.stop()
    rows = []
    for transport in ("http", "https"):
        med = {
            kind: [statistics.median(x[i] for x in results[(transport, kind)]) for i in range(3)]
            for kind in ("urllib", "keep-alive")
        }
        old, new = med["urllib"], med["keep-alive"]
        rows.append(
            [
                transport,
                f"{old[0] * 1000:.2f}",
                f"{new[0] * 1000:.2f}",
                f"{new[0] / old[0]:.2f}x",
                f"{old[1] * 1000:.2f}",
                f"{new[1] * 1000:.2f}",
                f"{old[2] / args.calls * 1000:.2f}",
                f"{new[2] / args.calls * 1000:.2f}",
                f"{new[2] / old[2]:.2f}x",
            ]
        )
    headers = ["transport", "urllib p50 ms", "keep-alive p50 ms", "p50 ratio"]
    headers += ["urllib p99 ms", "keep-alive p99 ms", "urllib CPU ms/call"]
    headers += ["keep-alive CPU ms/call", "CPU ratio"]
    print(f"\nMedians over {args.reps} rep(s):\n")
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
