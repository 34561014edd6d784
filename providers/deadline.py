"""Wall-clock deadlines for back-end calls.

HTTP libraries time each socket operation on its own (httpx and requests both apply their read
timeout per read), so a server that trickles one byte at a time never trips them. A deadline
here is a point on the monotonic clock; transports clamp every connect, read and write to what
is left of it, so a whole call ends when it runs out, however the server paces its bytes.

Deadlines nest through a context variable: a job sets its overall budget, each HTTP call its
own, and the earlier one wins. Threads that work for a caller copy its context (see
``providers/whm.py``), so a job's budget follows its calls into pool threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["budget", "expired", "remaining"]

_deadline: ContextVar[float | None] = ContextVar("provider_deadline", default=None)


@contextmanager
def budget(seconds: float) -> Iterator[float]:
    """Let the block run at most ``seconds`` more (less if an outer deadline is earlier).

    Yields the effective monotonic deadline."""
    mine = time.monotonic() + seconds
    outer = _deadline.get()
    effective = mine if outer is None else min(mine, outer)
    token = _deadline.set(effective)
    try:
        yield effective
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (0 when past it), None when there is none."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def expired() -> bool:
    """True when the current deadline has passed."""
    left = remaining()
    return left is not None and left <= 0.0


def clamp(timeout: float | None) -> float | None:
    """``timeout`` for one socket operation, cut down to the time left (None: no limit)."""
    left = remaining()
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)
