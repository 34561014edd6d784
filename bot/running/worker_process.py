"""The worker process: ``serve`` and ``socket`` run jobs and after-ack work in a child.

Why a child and not threads: the after-ack work of a command (live check, storing the
request, posting the card) is several milliseconds of Python, and in one process it competes
with the next acknowledgements for the GIL. In a child it gets its own interpreter, so the
serving process does little more than verify, parse and acknowledge.

The child is ``smtp-bot worker --child-of PID``: the same worker as a standalone one (jobs,
timed reverts, housekeeping) that also reads ``Task`` lines on stdin and says ``ready`` on
stdout. It dies with the bot (Linux: the kernel kills it when its parent dies, even by
SIGKILL; elsewhere: when its stdin closes). If it dies on its own it is started again.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from bot.slack.task import Task

__all__ = ["READY", "WorkerProcess", "child_argv", "die_with_parent"]

log = logging.getLogger(__name__)

READY = b"ready\n"
_PR_SET_PDEATHSIG = 1


def child_argv(parent_pid: int | None = None) -> list[str]:
    """The command line of the worker process for this bot."""
    pid = os.getpid() if parent_pid is None else parent_pid
    return [sys.executable, "-m", "bot", "worker", "--child-of", str(pid)]


def die_with_parent(parent_pid: int) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux). False where that
    is not available; the closing stdin then ends the child instead. Exits at once if the
    parent is already gone."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError) as exc:
            log.warning("cannot tie the worker process to the bot's life: %s", exc)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    return armed


class WorkerProcess:
    """Starts, feeds, watches and stops the worker process."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        restart_delay_s: tuple[float, float] = (1.0, 30.0),
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.on_exit = on_exit  # told the PID of each child that exited
        self.env = dict(env) if env is not None else None
        self.restart_delay_s = restart_delay_s
        self.restarts = 0
        self.lost = 0  # tasks that could not be handed on (the process was gone)
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._spawned = threading.Condition()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-process")
        self._writer = threading.Thread(target=self._write, name="worker-feed", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> WorkerProcess:
        self._supervisor.start()
        self._writer.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 30.0) -> bool:
        """Hand on the queued tasks, close stdin (the child finishes in-flight work and exits),
        wait up to ``timeout`` (then SIGKILL). True if it exited 0 in time."""
        self._stopping.set()
        self._lines.put(None)
        with self._spawned:
            self._spawned.notify_all()
        self._writer.join(5.0)
        proc = self._proc
        clean = True
        if proc is not None:
            self._close_stdin(proc)
            try:
                clean = proc.wait(timeout) == 0
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker process %s did not stop in %.0f s; killing it", proc.pid, timeout
                )
                proc.kill()
                proc.wait()
                clean = False
        self._supervisor.join(5.0)
        return clean

    # --- what /healthz and /metrics read -----------------------------------------------------

    @property
    def starting(self) -> bool:
        return not self._ready.is_set() and not self._stopping.is_set() and self.restarts == 0

    @property
    def alive(self) -> bool:
        proc = self._proc
        return self._ready.is_set() and proc is not None and proc.poll() is None

    @property
    def busy(self) -> int | None:
        return None  # counted inside the child, not visible from here

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # --- feeding -----------------------------------------------------------------------------

    def submit(self, task: Task) -> None:
        """Wake the child for a stored ``task``; returns at once (the writer thread does the
        I/O). The line is a wake-up: the intake row is the copy that counts."""
        self._lines.put(task.to_line())

    def _write(self) -> None:
        while True:
            line = self._lines.get()
            if line is None:
                return
            proc = self._live_process()
            if proc is None or proc.stdin is None:
                self._lose("no worker process")
                continue
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError):
                self._lose("the worker process went away")

    def _live_process(self) -> subprocess.Popen[bytes] | None:
        """The running child; while it is being restarted, wait for the new one."""
        deadline = time.monotonic() + self.restart_delay_s[1] + 30.0
        with self._spawned:
            while True:
                proc = self._proc
                if proc is not None and proc.poll() is None:
                    return proc
                remaining = deadline - time.monotonic()
                if self._stopping.is_set() or remaining <= 0:
                    return None
                self._spawned.wait(min(remaining, 1.0))

    def _lose(self, why: str) -> None:
        """A wake-up that did not reach the child: the task itself is stored, and a worker's
        intake poll carries it out a little later."""
        self.lost += 1
        log.error("a wake-up was not delivered: %s (%d so far)", why, self.lost)

    # --- supervising -------------------------------------------------------------------------

    def _supervise(self) -> None:
        """Spawn, read ``ready``, wait for the exit, and start again unless stopping.

        The child is spawned from this thread, which lives as long as the child: on Linux
        the parent-death signal follows the thread that forked."""
        delay = self.restart_delay_s[0]
        while not self._stopping.is_set():
            started = time.monotonic()
            proc = self._spawn()
            self._read_control(proc)
            code = proc.wait()
            self._ready.clear()
            for pipe in (proc.stdin, proc.stdout):  # the dead child's ends: a new child gets new
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            if self.on_exit is not None:
                try:
                    self.on_exit(proc.pid)
                except Exception:  # the supervisor must outlive a failing hook
                    log.exception("after worker process %s exited", proc.pid)
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60.0:
                delay = self.restart_delay_s[0]
            log.error(
                "worker process %s exited with %s; starting it again in %.0f s",
                proc.pid,
                code,
                delay,
            )
            self.restarts += 1
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.restart_delay_s[1])

    def _spawn(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env
        )
        with self._spawned:
            self._proc = proc
            self._spawned.notify_all()
        log.info("worker process %s started", proc.pid)
        return proc

    def _read_control(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line == READY:
                self._ready.set()
                log.info("worker process %s is ready", proc.pid)

    @staticmethod
    def _close_stdin(proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError as exc:
                log.debug("closing the worker process's stdin: %s", exc)
