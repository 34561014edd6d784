"""The intake table: a replay is stored once, a dead worker's row is claimed again, a row
whose workers keep dying is given up once, and two workers never hold the same row."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def test_claims_by_id_hand_each_row_to_one_worker(db: Database) -> None:
    clock = Clock()
    q = queue(db, clock)
    ids = [q.accept(kind="press", payload=f'{{"n": {i}}}', dedupe_key=f"k{i}") for i in range(20)]
    got: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(name: str) -> None:  # every worker is woken for every row, as a broadcast would
        for intake_id in ids:
            assert intake_id is not None
            claimed = q.claim(name, intake_id=intake_id)
            if claimed is not None:
                assert claimed.id == intake_id and claimed.attempts == 1
                assert (claimed.kind, claimed.received_at) == ("press", clock.now)
                assert claimed.payload == f'{{"n": {ids.index(intake_id)}}}'
                with lock:
                    got.append((name, claimed.id))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(intake_id for _, intake_id in got) == sorted(ids)
    for name, intake_id in got:  # the lease went to the worker that was told it has the row
        assert q.complete(intake_id, name)
    assert q.counts() == {"done": 20}


def test_a_row_claimed_by_id_is_given_up_exactly_once(db: Database) -> None:
    clock = Clock()
    q = queue(db, clock, max_attempts=2)
    intake_id = q.accept(kind="command", payload="{}", dedupe_key="k")
    assert intake_id is not None
    for attempt in (1, 2):
        claimed = q.claim(f"w{attempt}", intake_id=intake_id)
        assert claimed is not None and claimed.attempts == attempt and not claimed.gave_up
        assert q.claim("other", intake_id=intake_id) is None, "still leased"
        clock.now += timedelta(seconds=31)
    final = q.claim("w3", intake_id=intake_id)
    assert final is not None and final.gave_up and final.attempts == 2
    assert q.claim("w4", intake_id=intake_id) is None
    assert q.counts() == {"failed": 1}


def test_finding_nothing_to_claim_does_not_wait_for_the_writer(tmp_path: Path) -> None:
    """Every wake-up of the pump asks for the next row; with nothing to take it must not
    queue behind (nor hold up) a writer such as an acknowledgement's insert (SQLite)."""
    db = Database(f"sqlite:///{tmp_path / 'intake.db'}")
    db.upgrade()
    q = queue(db, Clock())
    intake_id = q.accept(kind="command", payload="{}", dedupe_key="k")
    assert intake_id is not None and q.claim("w1", intake_id=intake_id) is not None
    answers: list[object] = []
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.write_lock():
            holding.set()
            release.wait(30)

    def pump() -> None:
        answers.append(q.claim("w2"))

    held = threading.Thread(target=writer)
    held.start()
    assert holding.wait(10)
    try:
        polling = threading.Thread(target=pump)
        polling.start()
        polling.join(10)
        assert not polling.is_alive(), "an empty claim waited for the write lock"
        assert answers == [None]
    finally:
        release.set()
        held.join()
        db.dispose()
