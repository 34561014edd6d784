"""Redaction: no secret value ever reaches a log line, a Slack message or the database.

An exception text carries a secret in many forms: raw, quoted, repr-escaped (``\\n``,
``\\\\``), as a bytes repr (``b'...'``), JSON-escaped or URL-encoded with upper- or lower-case
``%xx``. ``Scrubber`` masks each of them. The process's secrets are registered once at start
(``install_redaction``); ``scrub`` then cleans any text built from a back end's reply before
it is posted or stored (providers/ cannot know Slack or the database, so the bot does it).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["RedactingFilter", "Scrubber", "install_redaction", "register_secrets", "scrub"]

MASK = "[redacted]"
_MIN_LENGTH = 4  # shorter values would mask ordinary words


def _escaped_forms(secret: str) -> set[str]:
    """The forms a string takes once escaped by repr, bytes repr, JSON or unicode_escape."""
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode("utf-8"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
    }
    return forms


def _url_pattern(encoded: str) -> str:
    """A regex for a URL-encoded form whose ``%xx`` may be upper or lower case."""
    parts = re.split(r"(%[0-9A-Fa-f]{2})", encoded)
    return "".join(
        f"%(?i:{p[1:]})" if re.fullmatch(r"%[0-9A-Fa-f]{2}", p) else re.escape(p) for p in parts
    )


def secret_patterns(secret: str) -> list[str]:
    """Regex alternatives matching ``secret`` in every form it can take in a message."""
    escaped = _escaped_forms(secret)
    for form in list(escaped):  # escaped twice: the repr of a message that holds a repr
        escaped |= _escaped_forms(form)
    patterns = {re.escape(form) for form in escaped}
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")):
        patterns.add(_url_pattern(encoded))
    return sorted(patterns, key=len, reverse=True)


class Scrubber:
    """Masks every form of each known secret in a text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if s and len(s) >= _MIN_LENGTH)
        patterns = [p for s in self.secrets for p in secret_patterns(s)]
        patterns.sort(key=len, reverse=True)  # the longest form first: no half-masked secret
        self._regex = re.compile("|".join(patterns)) if patterns else None

    def __call__(self, text: str) -> str:
        if self._regex is None or not text:
            return text
        return self._regex.sub(MASK, text)


_active = Scrubber()


def register_secrets(secrets: Iterable[str]) -> Scrubber:
    """Add ``secrets`` to the ones ``scrub`` masks; returns the process's scrubber."""
    global _active
    _active = Scrubber(_active.secrets | set(secrets))
    return _active


def scrub(text: str) -> str:
    """``text`` with every registered secret masked, in each of its forms."""
    return _active(text)


class RedactingFilter(logging.Filter):
    """Masks every known secret in a record's final message and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._scrubber = Scrubber(secrets)

    def _scrub(self, text: str) -> str:
        return self._scrubber(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        record.msg, record.args = clean, None
        return True


def install_redaction(secrets: Iterable[str]) -> None:
    """Attach the filter to every handler of the root logger, and register the secrets for
    ``scrub`` (messages to Slack and the database)."""
    values = list(secrets)
    register_secrets(values)
    redactor = RedactingFilter(values)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
