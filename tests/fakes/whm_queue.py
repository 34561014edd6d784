"""The fake WHM's Exim queue: ``fetch_mail_queue`` with ``api.filter``,
``remove_messages_mail_queue`` that answers "started in background" and removes later, and
UAPI ``Email::delete_held_messages``. Shapes follow cPanel's docs (docs/whm-incident.md); the
parameters received are checked exactly, as WHM would parse them."""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["FakeQueue", "Started", "QUEUE_FUNCTIONS", "QUEUE_UAPI"]

QUEUE_FUNCTIONS = frozenset({"fetch_mail_queue", "remove_messages_mail_queue"})
QUEUE_UAPI = frozenset({"delete_held_messages"})
STARTED = "Mail queue remove started in background"
_MSGID_RE = re.compile(r"^[A-Za-z0-9]{6}-[A-Za-z0-9]{6,11}-[A-Za-z0-9]{2,4}$")
_FILTER_KEYS = {"api.filter.enable", "api.filter.a.field", "api.filter.a.type", "api.filter.a.arg0"}
_FIELDS = ("size", "msgid", "sender", "time", "frozen", "user", "recipients")


class QueueFailure(Exception):
    """A function failure (metadata.result 0) with WHM's reason."""


@dataclass(frozen=True)
class Started:
    """A reply whose metadata.reason is not "OK" (the background queue functions)."""

    reason: str
    data: Any = None


def _match(kind: str, value: str, term: str) -> bool:
    """cPanel's string filter operators (Cpanel::Args::Filter::Utils)."""
    if kind == "contains":
        return term.lower() in value.lower()
    if kind == "begins":
        return value.lower().startswith(term.lower())
    if kind == "ends":
        return value.lower().endswith(term.lower())
    if kind == "eq":
        return value == term
    if kind == "ne":
        return value != term
    raise QueueFailure(f"API failure: “{kind}” is not a valid filter type.")


class FakeQueue:
    """Queued messages; removals land ``remove_delay_s`` after the call that asked for them."""

    def __init__(self, lock: threading.RLock, *, remove_delay_s: float = 0.2) -> None:
        self._lock = lock
        self.remove_delay_s = remove_delay_s
        self._records: dict[str, dict[str, Any]] = {}
        self._held: set[str] = set()
        self._stuck: set[str] = set()  # being delivered: -Mrm leaves them queued
        self._pending: list[tuple[float, list[str]]] = []
        self._ids = itertools.count(1)

    # -- set-up and inspection ------------------------------------------------------------

    def add(
        self,
        sender: str,
        count: int = 1,
        *,
        recipients: tuple[str, ...] = ("someone@example.net",),
        frozen: bool = False,
        held: bool = False,
        stuck: bool = False,
        when: int | None = None,
        size: int = 2048,
    ) -> list[str]:
        """Queue ``count`` messages from ``sender``; returns their IDs."""
        made = []
        with self._lock:
            for _ in range(count):
                n = next(self._ids)
                msgid = f"1U{n % 10000:04d}-{n:06X}-Lr"
                self._records[msgid] = {
                    "size": size,
                    "msgid": msgid,
                    "sender": sender,
                    "time": when if when is not None else int(time.time()) - n,
                    "frozen": int(frozen),
                    "user": None,
                    "recipients": list(recipients),
                }
                if held:
                    self._held.add(msgid)
                if stuck:
                    self._stuck.add(msgid)
                made.append(msgid)
        return made

    def count(self, sender: str | None = None) -> int:
        with self._lock:
            self._settle()
            return sum(sender is None or r["sender"] == sender for r in self._records.values())

    # -- the functions --------------------------------------------------------------------

    def dispatch(self, function: str, p: dict[str, str]) -> Any:
        self._settle()
        if function == "fetch_mail_queue":
            return {"records": self._fetch(p)}
        return self._remove(p)

    def delete_held(self, address: str) -> int:
        self._settle()
        gone = [i for i in self._held if self._records[i]["sender"].lower() == address.lower()]
        for msgid in gone:
            del self._records[msgid]
            self._held.discard(msgid)
        return len(gone)

    def _fetch(self, p: dict[str, str]) -> list[dict[str, Any]]:
        extra = set(p) - _FILTER_KEYS - {"api.version"}
        if extra:
            raise QueueFailure(f"API failure: unexpected parameter(s): {', '.join(sorted(extra))}")
        records = [dict(r, recipients=list(r["recipients"])) for r in self._records.values()]
        if p.get("api.filter.enable") != "1":
            return records
        field, term = p.get("api.filter.a.field", ""), p.get("api.filter.a.arg0", "")
        kind = p.get("api.filter.a.type", "contains")
        if field not in _FIELDS:
            raise QueueFailure(f"API failure: “{field}” is not a field of fetch_mail_queue.")
        if not term and kind in ("contains", "begins", "ends"):
            return records  # cPanel: an empty term filters nothing
        return [r for r in records if _match(kind, str(r[field] or ""), term)]

    def _remove(self, p: dict[str, str]) -> Started:
        extra = set(p) - {"api.version", "msgids", "msgid"}
        if extra:
            raise QueueFailure(f"API failure: unexpected parameter(s): {', '.join(sorted(extra))}")
        ids = p["msgids"].split(",") if "msgids" in p else [p.get("msgid", "")]
        bad = [i for i in ids if not _MSGID_RE.match(i)]
        if bad:
            raise QueueFailure(f"API failure: “{bad[0][:40]}” is not a valid message ID.")
        self._pending.append((time.monotonic() + self.remove_delay_s, ids))
        return Started(STARTED)

    def _settle(self) -> None:
        """Carry out the background removals whose time has come."""
        now = time.monotonic()
        due = [ids for at, ids in self._pending if at <= now]
        self._pending = [(at, ids) for at, ids in self._pending if at > now]
        for ids in due:
            for msgid in ids:
                if msgid not in self._stuck:
                    self._records.pop(msgid, None)
                    self._held.discard(msgid)
