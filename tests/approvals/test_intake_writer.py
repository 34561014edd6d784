"""The intake insert behind every ack: one multi-row statement per batch on a kept
connection. A repeated dedupe key (in the batch or stored before) gets no ID, rows without
a key get their own, and a connection the server dropped is replaced without losing the
batch."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from approvals import Database
from approvals.intake_writer import IntakeWriter
from approvals.models import utcnow


def _row(key: str | None) -> dict[str, object]:
    return {
        "kind": "command",
        "payload": "{}",
        "dedupe_key": key,
        "received_at": utcnow(),
        "state": "queued",
        "attempts": 0,
    }


def _stored(db: Database) -> list[tuple[int, str | None]]:
    with db.read() as s:
        return [
            tuple(r) for r in s.execute(sa.text("SELECT id, dedupe_key FROM intake ORDER BY id"))
        ]


def test_each_row_gets_its_own_id_and_a_repeated_key_none(db: Database) -> None:
    writer = IntakeWriter(db)
    try:
        ids = writer.insert([_row("c:T1"), _row("c:T1"), _row(None), _row("c:T2"), _row(None)])
        assert ids[1] is None
        assert None not in (ids[0], ids[2], ids[3], ids[4])
        assert len({ids[0], ids[2], ids[3], ids[4]}) == 4
        stored = dict(_stored(db))
        assert stored == {ids[0]: "c:T1", ids[2]: None, ids[3]: "c:T2", ids[4]: None}
    finally:
        writer.close()


def test_a_key_stored_by_an_earlier_batch_gets_no_row(db: Database) -> None:
    writer = IntakeWriter(db)
    try:
        (first,) = writer.insert([_row("c:T1")])
        again, other = writer.insert([_row("c:T1"), _row("c:T9")])
        assert first is not None and again is None and other is not None
        assert [key for _, key in _stored(db)] == ["c:T1", "c:T9"]
    finally:
        writer.close()


def test_a_dropped_connection_is_replaced_and_the_batch_stored(db: Database) -> None:
    writer = IntakeWriter(db)
    try:
        writer.insert([_row("c:T1")])
        kept = writer._conn
        assert kept is not None
        if db.is_sqlite:
            kept.connection.dbapi_connection.close()  # type: ignore[union-attr]
        else:
            backend = kept.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            kept.rollback()
            with db.engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": backend})
        (second,) = writer.insert([_row("c:T2")])
        assert second is not None and writer._conn is not kept
        assert [key for _, key in _stored(db)] == ["c:T1", "c:T2"]
    finally:
        writer.close()


def test_a_failing_statement_commits_nothing_of_its_batch(db: Database) -> None:
    writer = IntakeWriter(db)
    bad = _row("c:T3") | {"kind": None}  # NOT NULL: the whole statement fails
    try:
        with pytest.raises(sa.exc.IntegrityError):
            writer.insert([_row("c:T1"), bad])
        assert _stored(db) == []
        assert writer.insert([_row("c:T1")])[0] is not None  # and the writer still works
    finally:
        writer.close()
