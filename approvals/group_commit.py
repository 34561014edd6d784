"""Group commit: the inserts that arrive while one commit is under way share the next one.

Every acknowledgement waits for its intake row to be committed. Committed one by one, ten
concurrent acks take the database's write lock (SQLite) or flush its log (PostgreSQL) ten
times in a row, each waiting for the last. Here the first caller to find no commit under way
becomes the leader: it takes every row queued so far, writes them in one transaction and
hands each caller its own result; callers that arrive meanwhile wait and go in the next
batch, which the first of them leads. A leader writes one batch only: one that went on
while rows kept coming would hold its own caller's answer back for as long as the load
lasts. Each row still counts only once it is committed: a failed batch raises in every
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
    leads: bool = False  # woken to write the next batch, not with a result
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
            waiter.leads = not self._leading
            self._leading = True
        if not waiter.leads:
            waiter.done.wait()
        if waiter.leads:  # first in line when no batch was under way, or handed the lead
            self._lead()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Write the queued batch (this caller's row is in it), then hand the lead to the
        first caller still waiting, or let the next one to come take it."""
        with self._lock:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        try:
            results = self._write([w.item for w in batch])
            if len(results) != len(batch):
                raise RuntimeError("a group commit returned the wrong number of results")
        except BaseException as exc:  # every caller of this batch sees it; none is acked
            for waiter in batch:
                waiter.error = exc
        else:
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            if successor is not None:
                successor.leads = True
                successor.done.set()
            for waiter in batch:
                waiter.leads = False
                waiter.done.set()
