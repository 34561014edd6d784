"""What chat clients do to typed text, undone before parsing, and text shown back safely.

Slack turns quotes curly, ``--`` into a dash and addresses into ``<mailto:…>`` links; a reason
may carry control characters. Kept apart from the grammar so each stays one job.
"""

from __future__ import annotations

import re

from bot.errors import UsageError

__all__ = ["MAX_REASON", "is_number", "normalise", "shown", "split_reason"]

MAX_REASON = 500

_REPLACEMENTS = {
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u00a0": " ",
}
_DASH_OPTION_RE = re.compile(r"(^|\s)[\u2014\u2013\u2012\u2015\u2212]{1,2}(?=[A-Za-z])")
_MAILTO_RE = re.compile(r"<mailto:([^|<>\s]+)(?:\|[^<>]*)?>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_REASON_RE = re.compile(r"(?:^|\s)--reason(?:=|\s+|$)(.*)\Z", re.DOTALL)
_NUMBER_RE = re.compile(r"^[0-9]{1,12}$")  # ASCII only: str.isdigit() accepts "³"


def is_number(text: str) -> bool:
    """A request ID or count as people type it: ASCII digits, at most 12."""
    return bool(_NUMBER_RE.match(text))


def normalise(text: str) -> str:
    """Undo what chat clients do to typed text, before parsing."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    text = _DASH_OPTION_RE.sub(lambda m: m.group(1) + "--", text)
    return _MAILTO_RE.sub(lambda m: m.group(1), text)


def split_reason(text: str) -> tuple[str, str | None]:
    match = _REASON_RE.search(text)
    if not match:
        return text, None
    reason = " ".join(_CONTROL_RE.sub(" ", match.group(1)).split())
    if len(reason) >= 2 and reason[0] == reason[-1] and reason[0] in "\"'":
        reason = reason[1:-1].strip()
    if not reason:
        raise UsageError("--reason needs some text after it.")
    if len(reason) > MAX_REASON:
        raise UsageError(f"The reason is {len(reason)} characters; keep it under {MAX_REASON}.")
    return text[: match.start()], reason


def shown(text: str, limit: int = 60) -> str:
    clean = "".join(ch if ch.isprintable() else "�" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
