"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

PostgreSQL tests run against SMTP_BOT_TEST_POSTGRES_URL (default: the local server at
127.0.0.1:5432, database ``test``). When it cannot be reached they are skipped with a notice
at the end of the run, unless SMTP_BOT_REQUIRE_POSTGRES=1 (set by CI), which makes an
unreachable server an error.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from approvals import Database

POSTGRES_URL = os.environ.get(
    "SMTP_BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("SMTP_BOT_REQUIRE_POSTGRES") == "1"
_TABLES = ("audit_event", "approval", "request_target", "proposal", "change_request", "intake")
_pg_skip_reason: list[str] = []


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Slack or database settings."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "SMTP_BOT_CONFIG")) or name == "DATABASE_URL":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


def _postgres_engine_or_skip() -> sa.Engine:
    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " and SMTP_BOT_REQUIRE_POSTGRES=1", pytrace=False)
        if not _pg_skip_reason:
            _pg_skip_reason.append(message)
        pytest.skip(message + ": PostgreSQL tests skipped")
    return engine


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A private, migrated schema in the PostgreSQL test database for this test run."""
    admin = _postgres_engine_or_skip()
    schema = f"smtpbot_test_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = postgres_database(schema)
    try:
        db.upgrade()
        db.dispose()
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def postgres_database(schema: str) -> Database:
    """A Database exactly as production builds it, confined to ``schema``."""
    return Database(
        POSTGRES_URL,
        connect_args={"options": f"-csearch_path={schema}", "connect_timeout": 5},
        pool_size=20,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: SQLite in a temp file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "smtp-bot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        schema = request.getfixturevalue("postgres_schema")
        database = postgres_database(schema)
        with database.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
    try:
        yield database
    finally:
        database.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_skip_reason:
        terminalreporter.write_sep("!", "NOTICE: PostgreSQL tests were skipped", yellow=True)
        terminalreporter.write_line(_pg_skip_reason[0])
        terminalreporter.write_line(
            "Start PostgreSQL (or set SMTP_BOT_TEST_POSTGRES_URL) to run them; CI requires it."
        )
