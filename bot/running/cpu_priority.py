"""The worker process gives way to the acknowledgements: its CPU priority.

``serve`` acknowledges every interaction after committing it; the worker process carries
the after-ack work out (live checks, cards, answers) and the jobs. On a host short of CPU
the acknowledgements must come first (Slack gives up after 3 s; a card a second later is
fine). Niceness alone did not do it: with the worker at niceness 10 the ack p99 at
concurrency 10 was 1.3-1.8x the bare Bolt app's, and at par with the worker stopped, so the
acks were waiting for the worker's CPU; an ack wakes several times (the request's thread,
the database, the answer), and a waking task does not always take the core from a running
nice-10 one. A ``SCHED_IDLE`` task always gives it up to a waking normal task. It is not
starved: the kernel still gives it a small share of a busy core (weight 3 against 1,024 at
niceness 0, about a fifth of niceness 19's), and all of an idle one. Measured in
docs/BENCHMARKS.md (section 1).

Call it first thing in the process: threads inherit the policy of the thread that starts
them, and Linux sets it per thread.
"""

from __future__ import annotations

import logging
import os

from bot.config.settings import WorkerSched

__all__ = ["lower_priority"]

log = logging.getLogger(__name__)


def lower_priority(nice: int, policy: WorkerSched) -> str:
    """Lower this process's CPU priority; what was applied, for the log."""
    applied = []
    if nice:
        os.nice(nice)
        applied.append(f"niceness {nice}")
    if policy == "idle":
        sched_idle = getattr(os, "SCHED_IDLE", None)
        if sched_idle is None:  # not Linux: niceness is all there is
            log.info("SCHED_IDLE is not available here; the worker keeps its niceness")
        else:
            try:
                os.sched_setscheduler(0, sched_idle, os.sched_param(0))
                applied.append("SCHED_IDLE")
            except OSError as exc:  # a container that forbids it: niceness still applies
                log.warning("could not switch the worker process to SCHED_IDLE: %s", exc)
    return ", ".join(applied) or "unchanged"
