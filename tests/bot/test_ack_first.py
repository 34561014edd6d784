"""The worker process's after-ack work waits while a burst of acknowledgements lasts, and
never longer than its bound: a lone interaction starts at once."""

from __future__ import annotations

import threading
from pathlib import Path

from approvals import Database
from approvals.intake import Claimed, IntakeQueue
from bot.running.ack_first import AckFirst
from bot.running.intake_pump import IntakePump
from bot.slack.inbox import Inbox


class Clock:
    """Monotonic time that moves only when told to, or when the gate sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.during_sleep: list[AckFirst] = []  # a gate that sees an arrival at every sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds
        for gate in self.during_sleep:
            gate.arrived()


def gate(clock: Clock, max_wait_s: float = 3.0) -> AckFirst:
    return AckFirst(max_wait_s=max_wait_s, quiet_s=0.05, clock=clock, sleep=clock.sleep)


def test_a_lone_interaction_starts_at_once() -> None:
    clock = Clock()
    g = gate(clock)
    since = g.arrived()
    assert g.wait(since) == 0.0
    assert clock.slept == []


def test_work_waits_until_the_burst_has_been_quiet_for_a_moment() -> None:
    clock = Clock()
    g = gate(clock)
    first = g.arrived()
    clock.now += 0.01
    g.arrived()  # a second ack 10 ms later: a burst
    waited = g.wait(first)
    assert 0.05 - 1e-9 <= waited <= 0.052, "until 50 ms after the latest arrival"
    assert not g.bursting(clock.now)


def test_a_burst_that_goes_on_holds_work_back_for_the_bound_only() -> None:
    clock = Clock()
    g = gate(clock, max_wait_s=3.0)
    clock.during_sleep.append(g)  # acks keep arriving while the work waits
    since = g.arrived()
    clock.now += 0.001
    g.arrived()
    waited = g.wait(since)  # called 1 ms after its line arrived
    assert abs(waited - 2.999) < 1e-9
    assert g.bursting(clock.now), "still bursting: the bound, not the quiet, ended the wait"


def test_work_that_arrived_long_ago_does_not_wait_again() -> None:
    clock = Clock()
    g = gate(clock, max_wait_s=3.0)
    since = g.arrived()
    clock.now += 5.0
    g.arrived()
    clock.now += 0.001
    g.arrived()
    assert g.bursting(clock.now)
    assert g.wait(since) == 0.0


def test_zero_turns_it_off() -> None:
    clock = Clock()
    g = gate(clock, max_wait_s=0.0)
    g.arrived()
    g.arrived()
    assert g.bursting(clock.now)
    assert g.wait_now() == 0.0
    assert clock.slept == []


def test_the_intake_pump_waits_for_the_gate_before_each_claim(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pump.db'}")
    db.upgrade()
    queue = IntakeQueue(db)
    queue.accept(kind="command", payload="{}", dedupe_key="k1")
    events: list[str] = []
    holds = threading.Semaphore(0)

    def hold() -> None:
        events.append("hold")
        holds.release()

    def run(_task: object) -> None:
        events.append("run")

    pump = IntakePump(Inbox(queue, "w1"), run, poll_s=0.01, threads=1, hold=hold)
    original = queue.claim

    def claim(worker: str, *, intake_id: int | None = None) -> Claimed | None:
        events.append("claim")
        return original(worker, intake_id=intake_id)

    queue.claim = claim  # type: ignore[method-assign]
    pump.start()
    try:
        for _ in range(3):
            assert holds.acquire(timeout=10)
    finally:
        pump.stop()
        db.dispose()
    claims = [i for i, e in enumerate(events) if e == "claim"]
    assert claims and all(events[i - 1] == "hold" for i in claims), events
