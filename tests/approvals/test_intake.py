"""The intake table: a replay is stored once, a dead worker's row is claimed again, a row
whose workers keep dying is given up once, and two workers never hold the same row."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from approvals import Database
from approvals.intake import IntakeQueue


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def queue(db: Database, clock: Clock, max_attempts: int = 3) -> IntakeQueue:
    return IntakeQueue(db, lease=timedelta(seconds=30), max_attempts=max_attempts, clock=clock)


def test_a_replayed_delivery_is_stored_once(db: Database) -> None:
    q = queue(db, Clock())
    first = q.accept(kind="command", payload="{}", dedupe_key="command:T1")
    again = q.accept(kind="command", payload="{}", dedupe_key="command:T1")
    other = q.accept(kind="command", payload="{}", dedupe_key="command:T2")
    assert first is not None and other is not None and first != other
    assert again is None
    assert q.counts() == {"queued": 2}


def test_rows_without_a_key_are_never_deduplicated(db: Database) -> None:
    q = queue(db, Clock())
    assert q.accept(kind="home", payload="{}", dedupe_key=None) is not None
    assert q.accept(kind="home", payload="{}", dedupe_key=None) is not None
    assert q.counts() == {"queued": 2}


def test_a_held_row_is_not_claimed_until_its_lease_expires(db: Database) -> None:
    clock = Clock()
    q = queue(db, clock)
    intake_id = q.accept(kind="command", payload="{}", dedupe_key="k")
    held = q.claim("w1")
    assert held is not None and held.id == intake_id and held.attempts == 1
    assert q.claim("w2") is None
    assert q.claim("w2", intake_id=intake_id) is None
    clock.now += timedelta(seconds=31)  # w1 died: its lease ran out
    again = q.claim("w2")
    assert again is not None and again.id == intake_id and again.attempts == 2
    assert not q.complete(intake_id, "w1"), "the dead worker's late finish must not count"
    assert q.complete(intake_id, "w2")
    assert q.counts() == {"done": 1}
    assert q.claim("w3") is None


def test_a_renewed_lease_keeps_the_row(db: Database) -> None:
    clock = Clock()
    q = queue(db, clock)
    intake_id = q.accept(kind="command", payload="{}", dedupe_key="k")
    assert q.claim("w1") is not None
    clock.now += timedelta(seconds=20)
    assert q.renew(intake_id, "w1")
    clock.now += timedelta(seconds=20)
    assert q.claim("w2") is None
    assert not q.renew(intake_id, "w2")


def test_a_row_whose_workers_keep_dying_is_given_up_exactly_once(db: Database) -> None:
    clock = Clock()
    q = queue(db, clock, max_attempts=3)
    intake_id = q.accept(kind="press", payload="{}", dedupe_key="k")
    for attempt in (1, 2, 3):
        claimed = q.claim(f"w{attempt}")
        assert claimed is not None and claimed.attempts == attempt and not claimed.gave_up
        clock.now += timedelta(seconds=31)
    final = q.claim("w4")
    assert final is not None and final.id == intake_id and final.gave_up
    assert q.counts() == {"failed": 1}
    assert q.claim("w5") is None, "the person is told once, not on every poll"


def test_concurrent_claims_hand_each_row_to_one_worker(db: Database) -> None:
    q = queue(db, Clock())
    ids = {q.accept(kind="command", payload="{}", dedupe_key=f"k{i}") for i in range(20)}
    got: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (claimed := q.claim(name)) is not None:
            with lock:
                got.append(claimed.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(ids)


def test_prune_keeps_open_and_recent_rows(db: Database) -> None:
    clock = Clock()
    q = queue(db, clock)
    done = q.accept(kind="command", payload="{}", dedupe_key="old")
    q.accept(kind="command", payload="{}", dedupe_key="open")
    assert done is not None
    claimed = q.claim("w1", intake_id=done)
    assert claimed is not None
    q.complete(done, "w1")
    clock.now += timedelta(hours=2)
    assert q.prune(timedelta(days=1)) == 0
    clock.now += timedelta(days=1)
    assert q.prune(timedelta(days=1)) == 1
    assert q.counts() == {"queued": 1}
    assert q.next_due() == clock.now
