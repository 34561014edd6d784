"""Keeping a lease alive while work runs: shared by jobs and intake rows."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

__all__ = ["aware", "holder_name", "renewed_while"]

log = logging.getLogger(__name__)


@contextmanager
def renewed_while(
    renew: Callable[[], bool], *, interval_s: float, label: str, until: float | None = None
) -> Iterator[None]:
    """Call ``renew`` every ``interval_s`` on a thread while the block runs; stop renewing once
    it says False (the lease is no longer ours), or once ``until`` (a ``time.monotonic()``
    deadline) has passed, so work hung past its deadline loses the lease and is taken over
    or given up. ``label`` names the thing in log lines."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(interval_s):
            if until is not None and time.monotonic() >= until:
                log.warning("stopped renewing the lease on %s: past its deadline", label)
                return
            try:
                if not renew():
                    log.warning("lost the lease on %s", label)
                    return
            except Exception:
                log.exception("could not renew the lease on %s", label)

    thread = threading.Thread(target=loop, name=f"lease-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes from aggregates; every time here is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def holder_name() -> str:
    """A lease holder's name: host, process and a random part (several holders per process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
