"""Logging set-up: one JSON object per line in production, readable lines in a terminal, and
the request ID on every line.

The request ID lives in a context variable, so ``log_context`` marks everything logged inside
it (by this code or a library) without passing it around. Threads do not inherit it: set it
where work for a request starts (a listener, a job).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from bot.ops.redaction import RedactingFilter

__all__ = [
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "log_context",
    "quiet",
    "wants_json",
]

FORMAT_ENV = "SMTP_BOT_LOG_FORMAT"

_request_id: ContextVar[str] = ContextVar("smtp_bot_request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


@contextmanager
def log_context(*, request_id: object) -> Iterator[None]:
    """Tag every record logged in this block (in this thread or task) with ``request_id``."""
    token = _request_id.set("" if request_id is None else str(request_id))
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (empty when no request is in context) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = _request_id.get()
        return True


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The traceback, taken from ``exc_text`` when the redaction filter already scrubbed it."""
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    text = record.exc_text or ""
    if record.stack_info:
        text = (text + "\n" if text else "") + formatter.formatStack(record.stack_info)
    return text


class JsonFormatter(logging.Formatter):
    """``{"ts","level","logger","message","request_id"[,"exc"]}`` on one line.

    ``scrub`` runs on every field before encoding, so a secret is caught also where JSON
    would escape it (quotes, backslashes)."""

    def format(self, record: logging.LogRecord, scrub: Callable[[str], str] = str) -> str:
        entry: dict[str, str] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": str(getattr(record, "request_id", "")),
        }
        exc = _exception_text(self, record)
        if exc:
            entry["exc"] = exc
        return json.dumps({k: scrub(v) for k, v in entry.items()}, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2024-05-01 12:00:00,123 INFO bot.app [req 42]: message`` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", "")
        record.request_tag = f" [req {request_id}]" if request_id else ""
        return super().format(record)


class _ScrubbingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Runs the redaction filters over what is written too, not only over the record: the
    request ID, the logger name, stack_info and each JSON field before it is escaped."""

    def _scrub(self, text: str) -> str:
        for existing in self.filters:
            if isinstance(existing, RedactingFilter):
                text = existing._scrub(text)  # the same masking as on the record
        return text

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(self.formatter, JsonFormatter):
            return self._scrub(self.formatter.format(record, scrub=self._scrub))
        return self._scrub(super().format(record))


def wants_json(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """``SMTP_BOT_LOG_FORMAT`` (json | text) decides; otherwise JSON unless ``stream`` is a TTY."""
    choice = (environ if environ is not None else os.environ).get(FORMAT_ENV, "").strip().lower()
    if choice in ("json", "text"):
        return choice == "json"
    isatty = getattr(stream, "isatty", None)
    return not (isatty is not None and isatty())


def configure_logging(
    json: bool | None = None, level: int | str = logging.INFO, *, stream: TextIO | None = None
) -> logging.Handler:
    """Replace the root logger's handlers with one that writes to ``stream`` (stderr).

    ``json=None`` picks the format with ``wants_json``. Redaction filters already installed on
    the old handlers move to the new one, so calling this after ``install_redaction`` keeps
    secrets out; ``install_redaction`` afterwards adds its filter to this handler as usual.
    """
    stream = stream if stream is not None else sys.stderr
    use_json = wants_json(stream) if json is None else json
    handler = _ScrubbingStreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        for existing in old.filters:
            if isinstance(existing, RedactingFilter):
                handler.addFilter(existing)
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


@contextmanager
def quiet(*names: str) -> Iterator[None]:
    """Silence some loggers for a block (commands that report every outcome themselves)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
