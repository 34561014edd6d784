"""Who sent the most outgoing mail (``/smtp top``), from WHM's email tracking.

Facts relied on (docs/whm-incident.md has the sources): ``emailtrack_user_stats`` counts each
cPanel account's messages exactly (``SENDCOUNT``, ``DEFERFAILCOUNT``, ``REACHED_MAXEMAILS``)
for ``starttime``/``endtime`` and sorts and chunks server-side; ``emailtrack_search`` returns
delivery records (``sender``, ``user``, ``senderauth``, ``senderip``, ``type``, ``msgid``) at
most 5,000 per call, so the per-address view is the newest 5,000 records of the window, and
when the window holds more, each address's share of its account's sampled messages is applied
to the account's exact totals (marked as estimated). Three calls in all, made together: the
account totals, the sample, and the queue (``fetch_mail_queue``, as ``/smtp queue`` reads it).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field, replace
from typing import Any

from providers.errors import AuthError, ProtocolError, ProviderError, Rejected
from providers.targets import Scope, Verb
from providers.whm_client import WhmClient
from providers.whm_queue import QueueMessage, read_queue

__all__ = ["CAPABILITIES", "SAMPLE", "TopReport", "TopRow", "TrackingForbidden", "top"]

CAPABILITIES = frozenset({(Scope.TENANT, Verb.TOP)})
SAMPLE = 5000  # emailtrack_search's most per call (Cpanel::DeliveryReporter maximum)
MAX_ACCOUNTS = 1000  # account totals read in one chunk, worst first
TRACK_ACL = "track-email"  # WHM » Manage API Tokens: "Track Email"
SCRIPT_AUTH = "localuser"  # Exim P=local (sendmail / PHP mail()): the sender is a Unix user
_NOT_SENDERS = frozenset({"", "-remote-"})  # eximstats' user for mail from outside
_DEFER_FAIL = frozenset({"defer", "failure", "rejected"})


class TrackingForbidden(AuthError):
    """The tenant's API token may not read email tracking."""


@dataclass(frozen=True, slots=True)
class TopRow:
    """One sender: an address, or an account where the address is not known (scripts)."""

    account: str
    address: str | None  # None: the account as a whole (a script, or no record in the sample)
    sent: int
    deferfail: int
    auth: str | None  # the most common senderauth in the sample (None: not in the sample)
    top_ip: str | None
    hit_limit: bool  # REACHED_MAXEMAILS of the account's domain
    hit_deferfail_limit: bool
    queued: int
    estimated: bool = False  # sent/deferfail from the sample share of the account's totals

    @property
    def target(self) -> str:
        """What a disable request for this row targets."""
        return self.address if self.address else f"account:{self.account}"

    @property
    def script(self) -> bool:
        return self.auth == SCRIPT_AUTH


@dataclass(frozen=True, slots=True)
class TopReport:
    start: int
    end: int
    rows: tuple[TopRow, ...]
    sampled: int  # delivery records read from emailtrack_search
    complete: bool  # the sample holds every record of the window
    messages: int  # every account's SENDCOUNT together
    queued: int  # the whole queue


@dataclass
class _Seen:
    """What the sample says about one sender."""

    account: str
    address: str | None
    msgids: set[str] = field(default_factory=set)
    deferfail: int = 0
    auths: Counter[str] = field(default_factory=Counter)
    ips: Counter[str] = field(default_factory=Counter)


def _int(value: object, what: str) -> int:
    try:
        return int(str(value or 0))
    except ValueError as exc:
        raise ProtocolError(f"WHM sent {what}={value!r} where a number was expected") from exc


def _records(body: dict[str, Any], function: str) -> list[dict[str, Any]]:
    data = body.get("data")
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise ProtocolError(f"WHM {function} reply has no data.records list")
    return [r for r in records if isinstance(r, dict)]


def _call(client: WhmClient, function: str, params: dict[str, str]) -> dict[str, Any]:
    """A tracking call; a refusal is told apart from a bad token with one ``myprivs``."""
    try:
        return client.call(function, params)
    except (AuthError, Rejected) as exc:
        if _may_not_track(client):
            raise TrackingForbidden(
                "the WHM API token may not read email tracking: give it the “Track Email” "
                f"privilege ({TRACK_ACL}) in WHM » Manage API Tokens",
                detail=f"{function}: {exc.user_message}",
            ) from exc
        raise


def _may_not_track(client: WhmClient) -> bool:
    try:
        privileges = client.privileges()
    except ProviderError:
        return False  # myprivs refused too: the token itself is the problem, said as such
    return not (privileges.get("all") or privileges.get(TRACK_ACL))


def account_totals(client: WhmClient, start: int, end: int) -> list[dict[str, Any]]:
    """Each account's counts in the window, most messages first (sorted and cut by WHM)."""
    params = {
        "starttime": str(start),
        "endtime": str(end),
        "deliverytype": "remote-or-faildefer",
        "api.sort.enable": "1",
        "api.sort.a.field": "SENDCOUNT",
        "api.sort.a.method": "numeric",
        "api.sort.a.reverse": "1",
        "api.chunk.enable": "1",
        "api.chunk.size": str(MAX_ACCOUNTS),
        "api.chunk.start": "1",
    }
    return _records(_call(client, "emailtrack_user_stats", params), "emailtrack_user_stats")


def newest_deliveries(client: WhmClient, start: int, end: int) -> list[dict[str, Any]]:
    """The window's newest delivery records (success, defer, failure), at most SAMPLE.

    cPanel turns ``sendunixtime gt X`` into "at least X+1" and ``lt Y`` into "at most Y-1"
    (Cpanel::DeliveryReporter::Utils), hence the bounds one outside the window."""
    params = {
        "success": "1",
        "defer": "1",
        "failure": "1",
        "inprogress": "0",
        "deliverytype": "all",
        "max_results_by_type": str(SAMPLE),
        "api.filter.enable": "1",
        "api.filter.a.field": "sendunixtime",
        "api.filter.a.type": "gt",
        "api.filter.a.arg0": str(start - 1),
        "api.filter.b.field": "sendunixtime",
        "api.filter.b.type": "lt",
        "api.filter.b.arg0": str(end + 1),
        "api.sort.enable": "1",
        "api.sort.a.field": "sendunixtime",
        "api.sort.a.method": "numeric",
        "api.sort.a.reverse": "1",
        "api.chunk.enable": "1",
        "api.chunk.size": str(SAMPLE),
        "api.chunk.start": "1",
    }
    return _records(_call(client, "emailtrack_search", params), "emailtrack_search")


def _group(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str | None], _Seen]:
    """Records by sender: the address of an SMTP login, the account of a local script."""
    seen: dict[tuple[str, str | None], _Seen] = {}
    for n, rec in enumerate(records):
        account = str(rec.get("user") or "")
        if account in _NOT_SENDERS:
            continue
        auth = str(rec.get("senderauth") or "")
        sender = str(rec.get("sender") or "").strip().lower()
        address = sender if "@" in sender and auth != SCRIPT_AUTH else None
        entry = seen.setdefault((account, address), _Seen(account, address))
        entry.msgids.add(str(rec.get("msgid") or f"#{n}"))  # a record without an ID: its own
        if str(rec.get("type") or "") in _DEFER_FAIL:
            entry.deferfail += 1
        if auth:
            entry.auths[auth] += 1
        ip = str(rec.get("senderip") or "")
        if ip:
            entry.ips[ip] += 1
    return seen


def _queue(client: WhmClient, _start: int, _end: int) -> list[QueueMessage]:
    return read_queue(client)


def _share(total: int, part: int, whole: int) -> int:
    return round(total * part / whole) if whole else 0


def _queue_counts(
    messages: Iterable[QueueMessage], owners: dict[str, str]
) -> tuple[Counter[str], Counter[str]]:
    """Queued messages by sender address and by account (Exim's user, else the domain's)."""
    by_sender: Counter[str] = Counter()
    by_account: Counter[str] = Counter()
    for m in messages:
        sender = m.sender.lower()
        by_sender[sender] += 1
        account = m.user or owners.get(sender.rpartition("@")[2])
        if account:
            by_account[account] += 1
    return by_sender, by_account


def top(client: WhmClient, *, since_s: int, limit: int, now: float | None = None) -> TopReport:
    """The worst senders of the last ``since_s`` seconds, at most ``limit`` rows."""
    end = int(time.time() if now is None else now)
    start = end - since_s
    with ThreadPoolExecutor(3, thread_name_prefix="whm-top") as pool:  # independent reads
        reads = [
            pool.submit(copy_context().run, read, client, start, end)  # the deadline goes along
            for read in (account_totals, newest_deliveries, _queue)
        ]
        stats, records, queue = (f.result() for f in reads)
    totals = {str(a.get("USER")): a for a in stats}
    totals = {user: a for user, a in totals.items() if user not in _NOT_SENDERS}
    complete = len(records) < SAMPLE
    owners = {
        str(a.get(k)).lower(): user
        for user, a in totals.items()
        for k in ("DOMAIN", "PRIMARY_DOMAIN")
        if a.get(k)
    }
    for rec in records:  # addon and parked domains seen sending
        domain, user = str(rec.get("domain") or "").lower(), str(rec.get("user") or "")
        if domain and user not in _NOT_SENDERS:
            owners.setdefault(domain, user)
    by_sender, by_account = _queue_counts(queue, owners)
    seen = _group(records)
    per_account: dict[str, list[_Seen]] = defaultdict(list)
    for entry in seen.values():
        per_account[entry.account].append(entry)
    rows = []
    for entry in seen.values():
        row = _row(entry, totals.get(entry.account), per_account[entry.account], complete)
        queued = by_sender[row.address] if row.address else by_account[row.account]
        rows.append(replace(row, queued=queued))
    for user, acct in totals.items():  # accounts that sent but are not in the sample
        if user not in per_account and _int(acct.get("SENDCOUNT"), "SENDCOUNT") > 0:
            rows.append(_account_row(user, acct, by_account[user]))
    rows.sort(key=lambda r: (r.sent, r.deferfail, r.queued), reverse=True)
    messages = sum(_int(a.get("SENDCOUNT"), "SENDCOUNT") for a in totals.values())
    return TopReport(start, end, tuple(rows[:limit]), len(records), complete, messages, len(queue))


def _row(
    entry: _Seen, acct: dict[str, Any] | None, siblings: list[_Seen], complete: bool
) -> TopRow:
    sent, deferfail, estimated = len(entry.msgids), entry.deferfail, False
    if acct is not None and not complete:  # scale the sample to the account's exact totals
        estimated = True
        sent = _share(
            _int(acct.get("SENDCOUNT"), "SENDCOUNT"),
            len(entry.msgids),
            sum(len(s.msgids) for s in siblings),
        )
        deferfail = _share(
            _int(acct.get("DEFERFAILCOUNT"), "DEFERFAILCOUNT"),
            entry.deferfail,
            sum(s.deferfail for s in siblings),
        )
    return TopRow(
        account=entry.account,
        address=entry.address,
        sent=sent,
        deferfail=deferfail,
        auth=entry.auths.most_common(1)[0][0] if entry.auths else None,
        top_ip=entry.ips.most_common(1)[0][0] if entry.ips else None,
        hit_limit=_reached(acct, "REACHED_MAXEMAILS"),
        hit_deferfail_limit=_reached(acct, "REACHED_MAXDEFERFAIL"),
        queued=0,
        estimated=estimated or (acct is None and not complete),
    )


def _account_row(user: str, acct: dict[str, Any], queued: int) -> TopRow:
    return TopRow(
        account=user,
        address=None,
        sent=_int(acct.get("SENDCOUNT"), "SENDCOUNT"),
        deferfail=_int(acct.get("DEFERFAILCOUNT"), "DEFERFAILCOUNT"),
        auth=None,
        top_ip=None,
        hit_limit=_reached(acct, "REACHED_MAXEMAILS"),
        hit_deferfail_limit=_reached(acct, "REACHED_MAXDEFERFAIL"),
        queued=queued,
    )


def _reached(acct: dict[str, Any] | None, key: str) -> bool:
    """cPanel fills these from /var/cpanel/email_send_limits files: 0, 1 or the file's text."""
    if acct is None:
        return False
    value = str(acct.get(key) or "").strip()
    return value not in ("", "0")
