"""Group commit: the inserts that arrive while one commit is under way share the next one.

Every acknowledgement waits for its intake row to be committed. Committed one by one, ten
concurrent acks take the database's write lock (SQLite) or flush its log (PostgreSQL) ten
times in a row, each waiting for the last. Here the first caller to find no commit under way
becomes the leader: it takes every row queued so far, writes them in one transaction and
hands each caller its own result; callers that arrive meanwhile wait and go in the next
batch. Each row still counts only once it is committed: a failed batch raises in every
caller of that batch, so nothing of it is acknowledged."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Waiter(Generic[Item, Result]):
    item: Item
    done: threading.Event = field(default_factory=threading.Event)
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Runs ``write(items) -> results`` (one transaction, one result per item, in order)
    for batches of at most ``max_batch`` items submitted from any number of threads."""

    def __init__(
        self, write: Callable[[Sequence[Item]], Sequence[Result]], *, max_batch: int = 64
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Item, Result]] = []
        self._leading = False

    def submit(self, item: Item) -> Result:
        """Wait until ``item`` is committed (with others, perhaps); its result."""
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            self._queue.append(waiter)
            lead = not self._leading
            if lead:
                self._leading = True
        if lead:
            self._lead()
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Commit batches until the queue is empty, then let the next caller lead."""
        while True:
            with self._lock:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                if not batch:
                    self._leading = False
                    return
            try:
                results = self._write([w.item for w in batch])
                if len(results) != len(batch):
                    raise RuntimeError("a group commit returned the wrong number of results")
            except BaseException as exc:  # every caller of this batch sees it; none is acked
                for waiter in batch:
                    waiter.error = exc
                    waiter.done.set()
                continue
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
                waiter.done.set()
