"""The fake WHM's email tracking: ``emailtrack_user_stats`` and ``emailtrack_search`` with
WHM API 1 ``api.filter``/``api.sort``/``api.chunk`` handled the way cPanel hands them to its
delivery reporter (docs/whm-incident.md): per-account counts grouped by user, sorted by a
named count; delivery records filtered on ``sendunixtime`` (``gt X`` means at least X+1), at
most ``max_results_by_type`` per type and 5,000 in all. The parameters received are checked
exactly; a token without the "track-email" (or "all") privilege is refused."""

from __future__ import annotations

import itertools
import re
import time
from collections import defaultdict
from typing import Any

__all__ = ["TRACKING_FUNCTIONS", "FakeTracking", "TrackingFailure"]

TRACKING_FUNCTIONS = frozenset({"emailtrack_user_stats", "emailtrack_search"})
MAX_RESULTS = 5000
DEFAULT_PER_TYPE = 250
_TYPES = ("success", "defer", "failure", "inprogress")
_STATS_SORT = {"USER", "SUCCESSCOUNT", "TOTALSIZE", "SENDCOUNT", "FAILCOUNT", "DEFERCOUNT"}
_STATS_SORT |= {"DEFERFAILCOUNT"}
_NUMERIC = {"SUCCESSCOUNT", "TOTALSIZE", "SENDCOUNT", "FAILCOUNT", "DEFERCOUNT", "DEFERFAILCOUNT"}
_NUMERIC |= {"sendunixtime", "actionunixtime", "size", "spamscore"}
_SEARCH_SORT = {"type", "sender", "email", "size", "user", "sendunixtime", "msgid", "transport"}
_SEARCH_SORT |= {"recipient", "deliveredto", "domain", "router", "senderhost", "senderip"}
_SEARCH_SORT |= {"senderauth", "spamscore", "host", "ip", "actionunixtime", "message"}
_SEND_SIDE = {"sender", "email", "user", "domain", "senderip", "senderhost", "spamscore"}
_SEND_SIDE |= {"senderauth", "recipient", "msgid"}
_COMMON = {"api.version", "api.sort.enable", "api.sort.a.field", "api.sort.a.method"}
_COMMON |= {"api.sort.a.reverse", "api.chunk.enable", "api.chunk.size", "api.chunk.start"}
_FILTER_RE = re.compile(r"^api\.filter\.(?:enable|[a-z]\.(?:field|type|arg0))$")
_DIGITS = re.compile(r"^-?[0-9]{1,12}$")


class TrackingFailure(Exception):
    """A function failure (metadata.result 0) with WHM's reason."""


def _fail(text: str) -> TrackingFailure:
    return TrackingFailure(f"API failure: {text}")


class FakeTracking:
    """Tracked messages (one recipient, one outcome each) and the hourly-limit flags."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.reached_max_emails: set[str] = set()  # domains with a max_emails_<domain> file
        self.reached_max_deferfail: set[str] = set()
        self._ids = itertools.count(1)

    # -- set-up -----------------------------------------------------------------------------

    def add(
        self,
        sender: str,
        count: int = 1,
        *,
        user: str,
        domain: str | None = None,
        kind: str = "success",
        auth: str = "dovecot_login",
        ip: str = "203.0.113.7",
        when: int | None = None,
        recipient: str = "someone@example.net",
        size: int = 2048,
    ) -> None:
        """Track ``count`` messages from ``sender`` (an address, or a Unix user for scripts)."""
        if kind not in (*_TYPES, "rejected"):
            raise ValueError(f"unknown delivery type {kind!r}")
        now = int(time.time())
        sender_domain = domain or sender.rpartition("@")[2]
        for i in range(count):
            n = next(self._ids)
            self.records.append(
                {
                    "type": kind,
                    "user": user,
                    "domain": sender_domain,
                    "sender": sender,
                    "email": sender if "@" in sender else f"{sender}@host.fake.test",
                    "size": size,
                    "msgid": f"1T{n % 10000:04d}-{n:06X}-Tr",
                    "senderhost": "localhost" if auth == "localuser" else "mail.example.org",
                    "senderip": "127.0.0.1" if auth == "localuser" else ip,
                    "senderauth": auth,
                    "spamscore": 0,
                    "sendunixtime": when if when is not None else now - (i % 1800),
                    "message": "Accepted" if kind == "success" else "Deferred",
                    "recipient": recipient,
                    "deliveredto": recipient if kind == "success" else None,
                    "deliveryuser": None,
                    "deliverydomain": None,
                    "router": "lookuphost",
                    "host": "mx.example.net",
                    "ip": "198.51.100.25",
                    "transport": "remote_smtp",
                    "transport_is_remote": 1,
                }
            )

    # -- the functions ----------------------------------------------------------------------

    def dispatch(self, function: str, p: dict[str, str]) -> dict[str, Any]:
        if function == "emailtrack_user_stats":
            return {"records": self._user_stats(p)}
        return {"records": self._search(p)}

    def _user_stats(self, p: dict[str, str]) -> list[dict[str, Any]]:
        allowed = _COMMON | {"starttime", "endtime", "deliverytype", "sender"}
        _check_keys(p, allowed)
        start, end = _number(p, "starttime", 0), _number(p, "endtime", int(time.time()))
        kind = p.get("deliverytype", "")
        if kind not in ("", "remote", "remote-or-faildefer", "local"):
            raise _fail(f"“{kind}” is not a valid deliverytype.")
        if kind == "local":
            raise _fail("the fake tracks remote deliveries only")
        by_user: dict[str, dict[str, Any]] = defaultdict(dict)
        for rec in self.records:
            if not start <= rec["sendunixtime"] <= end:
                continue
            if p.get("sender") and rec["sender"] != p["sender"]:
                continue
            row = by_user[rec["user"]]
            if not row:
                row.update(_empty(rec["user"], rec["domain"]))
            row["SENDCOUNT"] += 1
            if rec["type"] == "success":
                row["SUCCESSCOUNT"] += 1
                row["TOTALSIZE"] += rec["size"]
            elif rec["type"] == "failure":
                row["FAILCOUNT"] += 1
            elif rec["type"] == "defer":
                row["DEFERCOUNT"] += 1
        rows = list(by_user.values())
        for row in rows:
            row["DEFERFAILCOUNT"] = row["FAILCOUNT"] + row["DEFERCOUNT"]
            row["REACHED_MAXEMAILS"] = int(row["DOMAIN"] in self.reached_max_emails)
            row["REACHED_MAXDEFERFAIL"] = int(row["DOMAIN"] in self.reached_max_deferfail)
        rows = _sorted(rows, p, _STATS_SORT, default="SENDCOUNT")
        return _chunk(rows, p, MAX_RESULTS * 100)

    def _search(self, p: dict[str, str]) -> list[dict[str, Any]]:
        allowed = _COMMON | {*_TYPES, "deliverytype", "max_results_by_type"}
        _check_keys(p, allowed, filters=True)
        for flag in _TYPES:
            if p.get(flag, "0") not in ("0", "1"):
                raise _fail(f"“{flag}” must be 0 or 1.")
        if p.get("deliverytype", "all") not in ("all", "remote", "local"):
            raise _fail("“deliverytype” must be all, remote or local.")
        per_type = _number(p, "max_results_by_type", DEFAULT_PER_TYPE)
        per_type = MAX_RESULTS if per_type > MAX_RESULTS else per_type
        keep = _filters(p)
        wanted = {t for t in _TYPES if p.get(t) == "1"}
        # the per-type cut follows the sort direction; cPanel's default is newest first
        reverse = not (p.get("api.sort.enable") == "1" and p.get("api.sort.a.reverse") != "1")
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in self.records:  # one pass over the table, as one indexed query would
            kind = _kind(rec)
            if kind in wanted and keep(rec):
                by_type[kind].append(rec)
        found: list[dict[str, Any]] = []
        for typed in by_type.values():
            typed.sort(key=lambda r: r["sendunixtime"], reverse=reverse)
            found.extend(typed[:per_type] if per_type else typed)
        found = _sorted(found, p, _SEARCH_SORT, default="sendunixtime")
        size = per_type or MAX_RESULTS
        return [dict(r) for r in _chunk(found, p, size)]


def _kind(rec: dict[str, Any]) -> str:
    return "failure" if rec["type"] == "rejected" else rec["type"]


def _empty(user: str, domain: str) -> dict[str, Any]:
    counts = dict.fromkeys(("SENDCOUNT", "SUCCESSCOUNT", "FAILCOUNT", "DEFERCOUNT"), 0)
    return (
        {"USER": user, "DOMAIN": domain, "PRIMARY_DOMAIN": domain, "OWNER": "root"}
        | counts
        | {"TOTALSIZE": 0}
    )


def _check_keys(p: dict[str, str], allowed: set[str], *, filters: bool = False) -> None:
    extra = [k for k in p if k not in allowed and not (filters and _FILTER_RE.match(k))]
    if extra:
        raise _fail(f"unexpected parameter(s): {', '.join(sorted(extra))}")


def _number(p: dict[str, str], key: str, default: int) -> int:
    if key not in p:
        return default
    if not _DIGITS.match(p[key]):
        raise _fail(f"“{key}” must be an integer, not “{p[key][:40]}”.")
    return int(p[key])


def _filters(p: dict[str, str]) -> Any:
    """api.filter.* as cPanel converts them for the delivery reporter: ``sendunixtime`` bounds
    (``gt X`` is at least X+1, ``lt Y`` at most Y-1) and exact/contains/begins on text."""
    if p.get("api.filter.enable") != "1":
        return lambda _r: True
    low, high, tests = None, None, []
    letters = {k.split(".")[2] for k in p if k.startswith("api.filter.") and k.count(".") == 3}
    for letter in sorted(letters):
        field = p.get(f"api.filter.{letter}.field", "")
        kind = p.get(f"api.filter.{letter}.type", "contains")
        term = p.get(f"api.filter.{letter}.arg0", "")
        if field == "sendunixtime":
            if kind not in ("gt", "lt", "==") or not _DIGITS.match(term):
                raise _fail(f"sendunixtime needs gt, lt or == and a number, not “{kind}”.")
            if kind in ("gt", "=="):
                low = int(term) + (1 if kind == "gt" else 0)
            if kind in ("lt", "=="):
                high = int(term) - (1 if kind == "lt" else 0)
        elif field in _SEND_SIDE:
            if kind not in ("eq", "contains", "begins"):
                raise _fail(f"“{kind}” is not a filter type for {field}.")
            tests.append(_text(field, kind, term))
        else:
            raise _fail(f"“{field}” is not a field of emailtrack_search.")
    lo = -(2**63) if low is None else low
    hi = 2**63 if high is None else high
    if not tests:
        return lambda r: lo <= r["sendunixtime"] <= hi
    return lambda r: lo <= r["sendunixtime"] <= hi and all(t(r) for t in tests)


def _text(field: str, kind: str, term: str) -> Any:
    if kind == "eq":
        return lambda r: str(r[field]) == term
    if kind == "begins":
        return lambda r: str(r[field]).startswith(term)
    return lambda r: term in str(r[field])


def _sorted(
    rows: list[dict[str, Any]], p: dict[str, str], fields: set[str], *, default: str
) -> list[dict[str, Any]]:
    if p.get("api.sort.enable") != "1":
        return sorted(rows, key=lambda r: r[default], reverse=True)
    field = p.get("api.sort.a.field", "")
    if field not in fields:
        raise _fail(f"“{field}” is not a field this function sorts by.")
    if field in _NUMERIC and p.get("api.sort.a.method") != "numeric":
        raise _fail(f"sorting the numeric “{field}” needs api.sort.a.method=numeric.")
    reverse = p.get("api.sort.a.reverse", "0") == "1"
    return sorted(rows, key=lambda r: (r[field] is None, r[field]), reverse=reverse)


def _chunk(rows: list[dict[str, Any]], p: dict[str, str], cap: int) -> list[dict[str, Any]]:
    if p.get("api.chunk.enable") != "1":
        return rows[:cap]
    size, start = _number(p, "api.chunk.size", 20), _number(p, "api.chunk.start", 1)
    if size < 1 or start < 1:
        raise _fail("api.chunk.size and api.chunk.start start at 1.")
    return rows[start - 1 : start - 1 + min(size, cap)]
