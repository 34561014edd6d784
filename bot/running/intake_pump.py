"""Carrying out intake rows that nobody was woken for.

The fast path runs a stored task as soon as the listener stored it (the worker process, or
this process's pool). The pump is the safety net: it polls the intake table for rows left
queued (the bot died between storing and waking) or whose lease expired (the worker died
carrying one out), in every process that runs jobs, so another replica or the restarted bot
finishes them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.slack.inbox import Inbox, Run

__all__ = ["IntakePump"]

log = logging.getLogger(__name__)


class IntakePump:
    """``threads`` threads that carry out left-behind intake rows, polling every ``poll_s``."""

    def __init__(
        self,
        inbox: Inbox,
        run: Run,
        *,
        poll_s: float,
        threads: int = 2,
        hold: Callable[[], object] | None = None,
    ) -> None:
        self.inbox = inbox
        self.run = run
        self.poll_s = poll_s
        self.hold = hold  # called before each claim (bot.running.ack_first)
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"intake-{i}", daemon=True)
            for i in range(threads)
        ]

    def start(self) -> IntakePump:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if self.hold is not None:
                self.hold()
            try:
                found = self.inbox.carry_out_next(self.run)
            except Exception as exc:
                log.warning("could not claim an intake row (%s); trying again", exc)
                found = False
            if not found:
                self._stopping.wait(self.poll_s)
