"""The intake insert that every acknowledgement waits for: one connection, one statement.

Why not the pool and a statement per row, as every other write does: each ack waits for this
commit. A pool checkout pings the server first (``pool_pre_ping``: a round trip on
PostgreSQL) and a statement per row is a round trip per row: in the ack bench at concurrency
10 on PostgreSQL the checkout took 1.4 ms and the inserts 3.3 ms of a 5.6 ms batch (medians,
2026-12-04). Group commit (approvals.group_commit) already lets one thread write at a time,
so that thread keeps one connection and sends its batch as one multi-row ``INSERT … ON
CONFLICT DO NOTHING RETURNING``, which on PostgreSQL is its own transaction: one round trip
instead of BEGIN, INSERT, COMMIT.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from approvals.db import Database
from approvals.models import Intake

__all__ = ["IntakeWriter"]

log = logging.getLogger(__name__)

_INTAKE: sa.Table = Intake.__table__  # type: ignore[assignment]
_PLAIN = sa.insert(_INTAKE).returning(_INTAKE.c.id)  # built once: its compiled form is cached

Row = dict[str, object]


class IntakeWriter:
    """Inserts batches of intake rows in one transaction on a connection it keeps.

    One caller at a time (the group commit's leader); a lock makes that a rule, not a hope.
    A connection the server dropped (a restart, a failover) is replaced and the batch sent
    once more: nothing of it was committed, or, if the commit landed and only its answer was
    lost, the second try meets the dedupe keys and the rows stay queued for the intake pump.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        insert = sqlite.insert if db.is_sqlite else postgresql.insert
        # One statement for every batch: run with a list of rows, SQLAlchemy sends it as a
        # single multi-row INSERT ("insertmanyvalues") and compiles it once. A statement
        # with the rows in its VALUES is compiled anew for each batch (a tenth of serve's
        # CPU per ack at concurrency 10, py-spy --gil, 2026-12-06).
        self._keyed = (
            insert(_INTAKE)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(_INTAKE.c.id, _INTAKE.c.dedupe_key)
        )
        self._conn: sa.Connection | None = None
        self._lock = threading.Lock()

    def insert(self, rows: Sequence[Row]) -> list[int | None]:
        """Commit ``rows``; each row's ID, or None where its dedupe key was stored before
        (also by an earlier row of the same batch)."""
        with self._lock:
            try:
                return self._insert_once(rows)
            except sa.exc.DBAPIError as exc:
                self._drop()
                if not exc.connection_invalidated:
                    raise
                log.warning("the intake connection was lost (%s); sending the batch again", exc)
                return self._insert_once(rows)

    def close(self) -> None:
        with self._lock:
            self._drop()

    # --- inside -----------------------------------------------------------------------------

    def _insert_once(self, rows: Sequence[Row]) -> list[int | None]:
        keyed: dict[str, int] = {}  # dedupe key → the batch position that inserts it
        plain: list[int] = []  # rows with no dedupe key: one statement each
        for i, row in enumerate(rows):
            key = row["dedupe_key"]
            if key is None:
                plain.append(i)
            else:  # a later row with the same key is a replay: it keeps None
                keyed.setdefault(str(key), i)
        ids: list[int | None] = [None] * len(rows)
        if self._db.is_sqlite:  # in-process: BEGIN and COMMIT cost no round trip
            conn = self._connection()
            with self._db.write_lock(), conn.begin():
                self._write(conn, rows, keyed, plain, ids)
        elif plain:  # rare (an interaction without a key): the batch in one transaction
            with self._db.engine.begin() as conn:
                self._write(conn, rows, keyed, plain, ids)
        else:  # one statement is its own transaction: one round trip instead of three
            self._write(self._connection(), rows, keyed, plain, ids)
        return ids

    def _write(
        self,
        conn: sa.Connection,
        rows: Sequence[Row],
        keyed: dict[str, int],
        plain: list[int],
        ids: list[int | None],
    ) -> None:
        if keyed:
            for intake_id, key in conn.execute(self._keyed, [rows[i] for i in keyed.values()]):
                ids[keyed[key]] = int(intake_id)
        for i in plain:
            ids[i] = int(conn.execute(_PLAIN, rows[i]).scalar_one())

    def _connection(self) -> sa.Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = self._db.engine.connect()
            if not self._db.is_sqlite:  # each statement commits (PostgreSQL: one round trip)
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except sa.exc.SQLAlchemyError as exc:
                log.debug("closing the intake connection: %s", exc)
