"""Cross-check of benchmark 1 with wrk, a load generator written in C (Debian's ``wrk``).

The same apps, fakes, bodies and signatures as ``bench_slack_ack.py``, but the load comes
from wrk instead of our own ``_loadgen.py``, so that the comparison with the bare Bolt app
does not rest on a client we wrote. wrk runs for a fixed time per block (closed loop, one
thread, N keep-alive connections) and replays pre-built signed requests from a file; a
small Lua script picks them in order and reports the percentiles and the errors as JSON.
Each block then waits until the app's after-ack work has drained, as in bench 1.

    apt-get install wrk
    /work/venv/bin/python bench/bench_slack_ack_wrk.py [--duration 3] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine  # noqa: E402
from _loadgen import build_request  # noqa: E402
from bench_slack_ack import (  # noqa: E402
    Apps,
    command_texts,
    expected_after_ack,
    signed_commands,
    summary,
    wait_count,
)

LUA = r"""
local requests, i = {}, 0
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  for r in string.gmatch(data, "([^%z]+)") do requests[#requests + 1] = r end
end
function request()
  i = i + 1
  return requests[(i - 1) % #requests + 1]
end
function done(summary, latency, _requests)
  local e = summary.errors
  io.write("WRK-JSON " .. string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}',
    summary.requests, summary.duration,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    e.connect + e.read + e.write + e.status + e.timeout) .. "\n")
end
"""


@dataclass
class WrkBlock:
    app: str
    concurrency: int
    requests: int
    p50_ms: float
    p99_ms: float
    rps: float
    errors: int
    drained: int
    expected: int


def run_wrk(apps: Apps, app: str, concurrency: int, seconds: int, workdir: Path) -> WrkBlock:
    pool = max(4000, int(1200 * seconds))  # more than either app answers in that time
    texts = command_texts(pool, apps.sent, apps.fakes.domains, apps.fakes.mailboxes)
    url = (apps.ours_url if app == "ours" else apps.bare_url) + "/slack/events"
    signed = signed_commands(texts, apps.sent, apps.response_base)
    raw = [build_request(url, body, headers) for body, headers in signed]
    requests_file = workdir / "requests.bin"
    requests_file.write_bytes(b"\0".join(raw))
    script = workdir / "replay.lua"
    script.write_text(LUA)
    name = "response_url" if app == "ours" else "chat.postMessage"
    before = apps.fakes.stats()["slack"].get(name, 0)
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s"]
    argv += ["-s", str(script), url, "--", str(requests_file)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK-JSON "))
    result = json.loads(line.removeprefix("WRK-JSON "))
    sent = result["requests"]
    apps.sent += pool
    expected = expected_after_ack(texts[:sent]) if app == "ours" else sent
    seen = wait_count(apps.fakes, "slack", name, before + expected) - before
    seen = _settled(apps, name, before + seen) - before  # requests wrk had in flight at the end
    return WrkBlock(
        app,
        concurrency,
        sent,
        result["p50_us"] / 1000,
        result["p99_us"] / 1000,
        sent / (result["duration_us"] / 1e6),
        result["errors"],
        seen,
        expected,
    )


def _settled(apps: Apps, name: str, count: int, quiet_s: float = 1.0) -> int:
    """Wait until the fakes' count of ``name`` calls stays the same for ``quiet_s``."""
    while True:
        time.sleep(quiet_s)
        now = apps.fakes.stats()["slack"].get(name, 0)
        if now == count:
            return now
        count = now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=3, help="seconds per block")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--whm-latency", type=float, default=0.05)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    levels = tuple(int(x) for x in args.levels.split(","))
    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    print(
        f"# slash-command ack with wrk ({version.split()[1]}): {args.duration} s per "
        f"app/level/rep, {args.reps} rep(s), WHM {args.whm_latency * 1000:.0f} ms/call; "
        f"{machine()}; ours: serve --worker process",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    apps = Apps(workdir, args.whm_latency)
    blocks: list[WrkBlock] = []
    try:
        for name in ("bare", "ours"):  # warm-up
            apps.run_block(name, 5, 50)
        for rep in range(args.reps):
            for i, level in enumerate(levels):
                order = ("bare", "ours") if (rep + i) % 2 == 0 else ("ours", "bare")
                for name in order:
                    b = run_wrk(apps, name, level, args.duration, workdir)
                    blocks.append(b)
                    print(
                        f"  {b.app:4} c={b.concurrency:<3} n={b.requests} p50={b.p50_ms:.1f}ms "
                        f"p99={b.p99_ms:.1f}ms {b.rps:.0f} req/s errors={b.errors} "
                        f"after-ack done {b.drained}/{b.expected}",
                        flush=True,
                    )
    finally:
        apps.close()
    print(f"\nMedians over {args.reps} rep(s):\n")
    print(summary(blocks, levels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
