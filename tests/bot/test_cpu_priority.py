"""Lowering the worker process's CPU priority: what is applied, and what is said when the
kernel refuses (run in a child process, so the test run keeps its own priority)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = """
import logging, os, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(message)s")
from bot.running.cpu_priority import lower_priority
if sys.argv[3] == "deny":
    def refuse(*_args):
        raise PermissionError(1, "Operation not permitted")
    os.sched_setscheduler = refuse
print("applied:", lower_priority(int(sys.argv[1]), sys.argv[2]))
print("policy:", os.sched_getscheduler(0), "nice:", os.getpriority(os.PRIO_PROCESS, 0))
"""


def _probe(nice: int, policy: str, mode: str = "allow") -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(nice), policy, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_idle_and_niceness_are_both_applied() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    out = _probe(10, "idle")
    assert "applied: niceness 10, SCHED_IDLE" in out
    assert f"policy: {os.SCHED_IDLE} nice: {base + 10}" in out


def test_normal_keeps_the_policy_and_zero_changes_nothing() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    out = _probe(0, "normal")
    assert "applied: unchanged" in out
    assert f"policy: {os.sched_getscheduler(0)} nice: {base}" in out


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_a_refused_switch_is_said_and_niceness_still_applies() -> None:
    out = _probe(5, "idle", "deny")
    assert "WARNING could not switch the worker process to SCHED_IDLE" in out
    assert "applied: niceness 5" in out and "SCHED_IDLE" not in out.split("applied:")[1]
