"""``smtp-bot audit export``: the append-only audit trail, oldest first, as JSON lines or CSV.

Needs only the database (not the config file or Slack), so it works wherever DATABASE_URL
does. A file is written under a temporary name and renamed, so it is never half written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from approvals import Database, audit
from bot.errors import ConfigError

__all__ = ["add_parser", "export", "parse_since"]


def parse_since(text: str) -> datetime:
    """An ISO date or datetime; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"“{text}” is not an ISO date or datetime, e.g. 2024-05-01 or 2024-05-01T12:00+02:00"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit_parser = sub.add_parser(
        "audit", help="the audit trail", description="Read the append-only audit trail."
    )
    audit_sub = audit_parser.add_subparsers(dest="audit_command", required=True)
    exp = audit_sub.add_parser(
        "export",
        help="write the audit trail out, oldest first",
        description="Write every audit event, oldest first, as JSON lines (one object per "
        "event) or CSV with a header row. Needs only DATABASE_URL.",
    )
    exp.add_argument(
        "--since",
        type=parse_since,
        metavar="DATE",
        help="only events at or after DATE: ISO date or datetime, UTC unless it has a zone",
    )
    exp.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default jsonl")
    exp.add_argument("--output", type=Path, metavar="FILE", help="write here (default stdout)")


def export(args: argparse.Namespace, db: Database) -> int:
    with db.read() as session:
        events = audit.history(session, since=args.since, limit=None, newest_first=False)
    chunks = audit.export(events, fmt=args.format)
    if args.output is None:
        _write(chunks, sys.stdout)
        sys.stdout.flush()
        return 0
    try:
        _write_file(chunks, args.output)
    except OSError as exc:
        raise ConfigError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    sys.stderr.write(f"wrote {len(events)} audit event(s) to {args.output}\n")
    return 0


def _write(chunks: Iterable[str], stream: TextIO) -> None:
    for chunk in chunks:
        stream.write(chunk)


def _write_file(chunks: Iterable[str], path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            _write(chunks, stream)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
