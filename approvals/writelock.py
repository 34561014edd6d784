"""One SQLite writer at a time, queued in order instead of in SQLite's busy handler.

SQLite lets one connection write at a time; the others wait in its busy handler, which
sleeps between tries (1, 2, 5, … up to 100 ms a try). Under load those sleeps, not the
work, made the tail of the acknowledgement: a write that could start 1 ms later started
up to 100 ms later. Threads of one process queue on a lock; processes (``serve`` and its
worker process, a CLI command, ``smtp-bot worker``) queue on an advisory ``flock`` of a
file beside the database, which the kernel hands to the next waiter as soon as it is free.
SQLite's own locking is unchanged underneath; the busy timeout still bounds a writer that
does not take part (an older version, a ``sqlite3`` shell).
"""

from __future__ import annotations

import fcntl
import os
import threading
from types import TracebackType

__all__ = ["WriteLock"]


class WriteLock:
    """A re-entrant lock across this process's threads and, with ``path``, across processes.

    Re-entrant as a whole: a nested write in one thread behaves as before, and the file lock
    is taken by the outermost holder only and released when it leaves."""

    def __init__(self, path: str | None = None) -> None:
        self._threads = threading.RLock()
        self._path = path
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> WriteLock:
        self._threads.acquire()
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Forget the lock file's descriptor (the next write opens it again)."""
        with self._threads:
            if self._fd is not None and self._depth == 0:
                os.close(self._fd)
                self._fd = None
