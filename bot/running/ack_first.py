"""The worker process holds after-ack work back while a burst of acknowledgements lasts.

Every interaction ``serve`` acknowledges reaches its worker process as a line on the pipe,
so the lines' arrival times tell the child how busy the acknowledging side is. The child's
own CPU already gives way (``SCHED_IDLE``, bot.running.cpu_priority), but its work also
runs elsewhere at normal priority: each command's live check, card and answer are database
transactions (on SQLite they hold the one write lock an acknowledgement's insert queues
for) and calls the database server, WHM and Slack serve. During a burst those slowed the
acknowledgements: with the worker process stopped for the duration of a block, ours met the
ack goal at concurrency 10; running, it did not (docs/BENCHMARKS.md section 1).

So a task waits while lines keep arriving (two within ``quiet_s`` and the latest less than
``quiet_s`` ago), for at most ``max_wait_s`` after its own line arrived: a lone command or
press starts at once; in a burst the acks come first and the cards follow, a few seconds
late at most. Slack gives up on an acknowledgement after 3 s; nobody gives up on a card.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["AckFirst"]


class AckFirst:
    """Arrival times of acknowledged interactions, and the wait they impose on their work."""

    def __init__(
        self,
        *,
        max_wait_s: float,
        quiet_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_wait_s = max_wait_s
        self.quiet_s = quiet_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._previous = float("-inf")
        self._latest = float("-inf")

    def arrived(self) -> float:
        """Note that an acknowledged interaction arrived; when (this clock)."""
        now = self._clock()
        with self._lock:
            self._previous, self._latest = self._latest, now
        return now

    def bursting(self, now: float) -> bool:
        return self._quiet_at(now) is not None

    def _quiet_at(self, now: float) -> float | None:
        """When the burst under way at ``now`` will have paused; None if there is none."""
        with self._lock:
            previous, latest = self._previous, self._latest
        if now - latest < self.quiet_s and latest - previous < self.quiet_s:
            return latest + self.quiet_s
        return None

    def wait_now(self) -> float:
        """``wait`` for work that has no line of its own (the pump's left-behind rows)."""
        return self.wait(self._clock())

    def wait(self, since: float) -> float:
        """Block while a burst lasts, until ``max_wait_s`` after ``since``; seconds waited."""
        deadline = since + self.max_wait_s
        start = now = self._clock()
        while now < deadline and (quiet_at := self._quiet_at(now)) is not None:
            self._sleep(max(min(quiet_at, deadline) - now, 0.001))
            now = self._clock()
        return now - start
