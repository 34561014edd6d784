"""Group commit of intake rows: concurrent accepts share commits, each gets its own answer,
a failed batch fails every
caller in it (so none of them is acknowledged). The batch insert itself: test_intake_writer."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from approvals import Database
from approvals.group_commit import GroupCommit
from approvals.intake import IntakeQueue


def test_callers_arriving_during_a_commit_share_the_next_one() -> None:
    first_started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def write(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            first_started.set()
            release.wait(10)
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(write)
    results: dict[int, int] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, group.submit(i)))
        for i in range(20)
    ]
    threads[0].start()
    assert first_started.wait(10)
    for t in threads[1:]:
        t.start()
    while sum(len(b) for b in batches) < 1 or len(group._queue) < 19:  # all queued behind it
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(10)
    assert results == {i: i * 10 for i in range(20)}
    assert [len(b) for b in batches] == [1, 19]  # two commits for twenty rows


def test_a_leader_answers_after_its_own_batch_while_the_next_one_is_written() -> None:
    """A leader that went on writing the batches queued behind it would hold its own
    caller's answer until the load stopped; the first caller waiting takes the lead."""
    second_started, release = threading.Event(), threading.Event()
    writers: list[str] = []

    def write(items: Sequence[int]) -> list[int]:
        writers.append(threading.current_thread().name)
        if len(writers) == 1:
            while len(group._queue) < 3:  # three more callers queue behind the first batch
                threading.Event().wait(0.005)
        else:
            second_started.set()
            assert release.wait(10)
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(write)
    answered: dict[int, int] = {}
    threads = [
        threading.Thread(
            target=lambda i=i: answered.__setitem__(i, group.submit(i)), name=f"caller-{i}"
        )
        for i in range(4)
    ]
    threads[0].start()
    while not writers:
        threading.Event().wait(0.005)
    for t in threads[1:]:
        t.start()
    assert second_started.wait(10)
    threads[0].join(10)
    assert answered == {0: 0}  # answered while the batch behind it is still being written
    release.set()
    for t in threads:
        t.join(10)
    assert answered == {i: i for i in range(4)}
    assert writers[0] == "caller-0" and writers[1] != "caller-0" and len(writers) == 2


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_commits() -> None:
    calls = 0

    def write(items: Sequence[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))
        return list(items)

    group: GroupCommit[str, str] = GroupCommit(write)
    with pytest.raises(sa.exc.OperationalError):
        group.submit("a")
    assert group.submit("b") == "b"


def test_fifty_concurrent_accepts_get_fifty_distinct_rows(db: Database) -> None:
    queue = IntakeQueue(db)
    barrier = threading.Barrier(50)
    ids: list[int | None] = []
    lock = threading.Lock()

    def accept(n: int) -> None:
        barrier.wait(10)
        got = queue.accept(kind="command", payload="{}", dedupe_key=f"command:T{n}")
        with lock:
            ids.append(got)

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ids) == 50 and None not in ids and len(set(ids)) == 50
    with db.read() as s:
        assert s.execute(sa.text("SELECT count(*) FROM intake")).scalar_one() == 50
