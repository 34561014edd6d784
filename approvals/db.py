"""Engine set-up, transactions and migrations for SQLite and PostgreSQL.

Every write goes through ``Database.transaction()``, which serialises writers on SQLite
(``BEGIN IMMEDIATE``) and lets callers lock rows on PostgreSQL (``SELECT … FOR UPDATE``), so
that state changes are atomic under concurrency on both; a write that is one statement may
go through ``Database.write()`` instead, the same rules without an ORM session. Reads go
through ``Database.read()``: one consistent snapshot that on SQLite does not wait for, nor
hold up, a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session

from approvals.writelock import WriteLock

__all__ = ["Database", "Written", "normalise_url"]

_SQLITE_BUSY_TIMEOUT_S = 30
_READ_ONLY = "smtp_bot_read_only"  # execution option of the connections ``read()`` uses


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_engine(url: str, busy_timeout_s: float) -> sa.Engine:
    engine = sa.create_engine(
        url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False}
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so we can make them IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # a reader's snapshot starts at its first SELECT (WAL: writers go on meanwhile)
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _sqlite_lock_path(engine: sa.Engine) -> str | None:
    """The file whose ``flock`` queues writers of this SQLite database, beside it; None for
    an in-memory database (one process only)."""
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return f"{path}-writer.lock"


@dataclass(frozen=True, slots=True)
class Written:
    """What one ``Database.write`` statement did: rows it matched, rows it returned."""

    rowcount: int
    rows: tuple[sa.Row[Any], ...]

    @classmethod
    def of(cls, result: sa.CursorResult[Any]) -> Written:
        rows = tuple(result) if result.returns_rows else ()
        return cls(result.rowcount, rows)


class Database:
    """One database: an engine plus the helpers the workflow needs."""

    def __init__(
        self,
        url: str,
        *,
        engine: sa.Engine | None = None,
        connect_args: dict[str, Any] | None = None,
        pool_size: int = 10,
        sqlite_busy_timeout_s: float = _SQLITE_BUSY_TIMEOUT_S,
    ) -> None:
        self.url = normalise_url(url)
        if engine is not None:
            self.engine = engine
        elif self.url.startswith("sqlite"):
            # a writer waits this long for another process's write lock, then fails cleanly
            self.engine = _sqlite_engine(self.url, sqlite_busy_timeout_s)
        else:
            # pre-ping: a connection killed under the pool (restart, failover) is replaced
            self.engine = sa.create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=pool_size,
                connect_args=connect_args or {},
            )
        self._read_engine = self.engine.execution_options(**{_READ_ONLY: True})
        # SQLite has one writer at a time: writers queue on a lock, across threads and
        # processes (approvals.writelock), not in SQLite's sleeping busy handler.
        self._write_lock: AbstractContextManager[object] = (
            WriteLock(_sqlite_lock_path(self.engine)) if self.is_sqlite else nullcontext()
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._write_lock, Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def write(self, statement: sa.Executable) -> Written:
        """Run one writing statement as its own transaction, without an ORM session.

        For the short writes every command makes (claiming and finishing its intake row,
        marking its card): on SQLite the writer queue is held only for the statement, not
        for a session's set-up, flush and tear-down, so an acknowledgement waiting to
        insert waits less; on PostgreSQL the statement commits by itself (no BEGIN and
        COMMIT round trips). Rows a ``RETURNING`` clause gives are read before the commit."""
        if self.is_sqlite:
            with self._write_lock, self.engine.begin() as conn:
                return Written.of(conn.execute(statement))
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            return Written.of(conn.execute(statement))

    def write_lock(self) -> AbstractContextManager[object]:
        """What ``transaction()`` holds while it writes: the writer queue on SQLite (take it
        before BEGIN), nothing on PostgreSQL. For writers with a connection of their own."""
        return self._write_lock

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only, in one transaction: a consistent snapshot.

        On SQLite it takes no write lock, so reads neither queue behind a writer nor delay
        one (``transaction()`` begins IMMEDIATE, which would)."""
        with Session(self._read_engine, expire_on_commit=False, autoflush=False) as session:
            with session.begin():
                yield session

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # --- migrations -------------------------------------------------------------------------

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(resources.files("approvals") / "migrations"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def upgrade(self, revision: str = "head") -> None:
        command.upgrade(self._alembic_config(), revision)

    def downgrade(self, revision: str) -> None:
        command.downgrade(self._alembic_config(), revision)

    def is_empty(self) -> bool:
        return not sa.inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._write_lock, WriteLock):
            self._write_lock.close()
