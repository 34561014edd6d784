"""SQLite writers of several processes queue on the writer lock instead of failing or
sleeping in SQLite's busy handler (approvals.writelock)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from approvals.db import Database

HOLDER = """
import sys, sqlalchemy as sa
from approvals.db import Database
db = Database(sys.argv[1], sqlite_busy_timeout_s=0)
with db.transaction() as s:
    s.execute(sa.text("INSERT INTO t (who) VALUES ('holder')"))
    print("holding", flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""


def _database(tmp_path: Path) -> tuple[str, Database]:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    db = Database(url, sqlite_busy_timeout_s=0)  # without the queue, a busy write fails at once
    with db.transaction() as s:
        s.execute(sa.text("CREATE TABLE t (who TEXT)"))
    return url, db


def test_a_write_waits_for_another_process_writer_instead_of_failing(tmp_path: Path) -> None:
    url, db = _database(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "holding"
        errors: list[BaseException] = []

        def write() -> None:
            try:
                with db.transaction() as s:
                    s.execute(sa.text("INSERT INTO t (who) VALUES ('second')"))
            except BaseException as exc:  # reported below: the test fails on it
                errors.append(exc)

        second = threading.Thread(target=write)
        second.start()
        second.join(0.5)
        assert second.is_alive(), f"the second writer did not wait: {errors}"
        holder.stdin.write("go\n")
        holder.stdin.flush()
        second.join(30)
        assert not second.is_alive() and errors == []
        assert holder.stdout.readline().strip() == "committed"
    finally:
        holder.kill()
        holder.wait()
    with db.read() as s:
        rows = [r[0] for r in s.execute(sa.text("SELECT who FROM t ORDER BY rowid"))]
    assert rows == ["holder", "second"]


def test_a_nested_write_keeps_the_file_lock_until_the_outer_one_ends(tmp_path: Path) -> None:
    _url, db = _database(tmp_path)
    lock_file = f"{tmp_path / 'w.db'}-writer.lock"

    def locked_elsewhere() -> bool:
        fd = os.open(lock_file, os.O_RDWR)  # a second open file: as another process sees it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    with db.transaction():
        with db.transaction():
            assert locked_elsewhere()
        assert locked_elsewhere()
    assert not locked_elsewhere()
    db.dispose()


def test_an_in_memory_database_has_no_lock_file(tmp_path: Path) -> None:
    db = Database("sqlite://")
    with db.transaction() as s:
        s.execute(sa.text("SELECT 1"))
    assert not list(tmp_path.iterdir())
    db.dispose()
