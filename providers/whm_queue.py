"""WHM's Exim queue: read it (``/smtp queue``) and remove one sender's messages (``purge``).

Facts relied on (docs/whm-incident.md has the sources): ``fetch_mail_queue`` returns
``data.records[]`` with ``size``, ``msgid``, ``sender``, ``time``, ``frozen``, ``user`` and
``recipients[]``, and takes WHM API 1 ``api.filter.*``; ``remove_messages_mail_queue`` takes
comma-separated ``msgids`` and answers "Mail queue remove started in background" before
anything is removed, so the queue is read again until the messages are gone or time is up;
UAPI ``Email::delete_held_messages`` (``email``) returns the number it deleted.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from providers.base import TargetResult, TargetState
from providers.errors import InvalidTarget, ProtocolError, TargetNotFound, VerificationFailed
from providers.targets import Scope, Target, Verb
from providers.whm_client import WhmClient, flag

__all__ = [
    "CAPABILITIES",
    "PurgeSettings",
    "QueueMessage",
    "QueueReport",
    "purge",
    "read_queue",
    "report",
]

CAPABILITIES = frozenset(
    {(s, Verb.PURGE) for s in (Scope.ACCOUNT, Scope.MAILBOX)}
    | {(s, Verb.QUEUE) for s in (Scope.TENANT, Scope.ACCOUNT, Scope.MAILBOX)}
)
_MSGID_RE = re.compile(r"^[A-Za-z0-9]{6}-[A-Za-z0-9]{6,11}-[A-Za-z0-9]{2,4}$")  # Exim IDs
TOP_DOMAINS = 5

Owner = Callable[[str], str]  # domain -> owning cPanel user (getdomainowner, shared per request)


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """One queued message as ``fetch_mail_queue`` describes it."""

    msgid: str
    sender: str
    time: int
    size: int
    frozen: bool
    recipients: tuple[str, ...]
    user: str | None = None  # the cPanel user Exim recorded, when it did (``top`` counts by it)


@dataclass(frozen=True, slots=True)
class QueueReport:
    """The queue as a whole and, with a target, that sender's part of it."""

    total: int
    frozen: int
    oldest: int | None  # unix time of the oldest message
    size: int  # bytes
    target: Target | None = None
    target_count: int = 0
    target_oldest: int | None = None
    top_domains: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PurgeSettings:
    """How a purge removes and waits: IDs per removal call, re-read pacing and the wait."""

    batch: int = 500
    wait_s: float = 20.0
    poll_s: float = 0.25
    dry_run: bool = False


def _message(item: object) -> QueueMessage:
    if not isinstance(item, dict):
        raise ProtocolError("WHM fetch_mail_queue sent a record that is not an object")
    recipients = item.get("recipients") or []
    try:
        return QueueMessage(
            msgid=str(item["msgid"]),
            sender=str(item.get("sender") or ""),
            time=int(item.get("time") or 0),
            size=int(item.get("size") or 0),
            frozen=bool(flag(item.get("frozen"))),
            recipients=tuple(str(r) for r in recipients),
            user=str(item["user"]) if item.get("user") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError("WHM fetch_mail_queue sent a malformed record") from exc


def read_queue(client: WhmClient, sender: str | None = None) -> list[QueueMessage]:
    """The queue, or (``sender``) the messages from that address: WHM filters them server-side
    ("contains", case-insensitive) and the exact match is made here, so ``bob@x`` never takes
    ``jimbob@x``'s mail. The address is a parameter value, never part of an expression."""
    params: dict[str, str] = {}
    if sender is not None:
        params = {
            "api.filter.enable": "1",
            "api.filter.a.field": "sender",
            "api.filter.a.type": "contains",
            "api.filter.a.arg0": sender,
        }
    data = client.call("fetch_mail_queue", params).get("data")
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise ProtocolError("WHM fetch_mail_queue reply has no data.records list")
    messages = [_message(r) for r in records]
    if sender is None:
        return messages
    return [m for m in messages if m.sender.lower() == sender.lower()]


def _mailboxes(client: WhmClient, target: Target, owner: Owner) -> tuple[str, list[str]]:
    """(cPanel user, addresses) whose mail the target covers."""
    if target.scope is Scope.MAILBOX:
        domain = target.domain
        if domain is None:
            raise InvalidTarget(f"{target} is an Exchange mailbox GUID; WHM needs user@domain.")
        return owner(domain), [target.name]
    if client.account(target.name) is None:
        raise TargetNotFound(f"no cPanel account {target.name} on this server")
    items = client.uapi(target.name, "Email", "list_pops_with_disk", {})
    if not isinstance(items, list):
        raise ProtocolError("WHM list_pops_with_disk reply has no data list")
    found = [str(i["email"]) for i in items if isinstance(i, dict) and i.get("email")]
    return target.name, found


def _targets_messages(client: WhmClient, addresses: Sequence[str]) -> list[QueueMessage]:
    if len(addresses) == 1:
        return read_queue(client, addresses[0])
    wanted = {a.lower() for a in addresses}  # an account: one read of the whole queue
    return [m for m in read_queue(client) if m.sender.lower() in wanted]


def report(client: WhmClient, target: Target | None, owner: Owner) -> QueueReport:
    """The queue's totals and, with a target, its count, oldest and top recipient domains."""
    messages = read_queue(client)
    times = [m.time for m in messages if m.time]
    base = QueueReport(
        total=len(messages),
        frozen=sum(m.frozen for m in messages),
        oldest=min(times) if times else None,
        size=sum(m.size for m in messages),
    )
    if target is None or target.scope is Scope.TENANT:
        return base
    _user, addresses = _mailboxes(client, target, owner)
    wanted = {a.lower() for a in addresses}
    mine = [m for m in messages if m.sender.lower() in wanted]
    domains = Counter(r.rsplit("@", 1)[-1].lower() for m in mine for r in m.recipients)
    mine_times = [m.time for m in mine if m.time]
    return QueueReport(
        **{f: getattr(base, f) for f in ("total", "frozen", "oldest", "size")},
        target=target,
        target_count=len(mine),
        target_oldest=min(mine_times) if mine_times else None,
        top_domains=tuple(domains.most_common(TOP_DOMAINS)),
    )


def _batches(ids: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def purge(client: WhmClient, settings: PurgeSettings, target: Target, owner: Owner) -> TargetResult:
    """Delete the target's held messages and queued mail, then re-read until it is gone.

    "removed N" counts the messages seen before that are no longer queued; "M left" (or
    "still queued") the target's messages in the last read."""
    user, addresses = _mailboxes(client, target, owner)
    before = _targets_messages(client, addresses)
    ids = [m.msgid for m in before if _MSGID_RE.match(m.msgid)]
    if settings.dry_run:
        planned = (f"remove_messages_mail_queue ({len(ids):,} messages)",)
        state = TargetState(target, f"{len(before):,} queued", {"queued": len(before)})
        return TargetResult(target, state=state, planned=planned)
    held = 0
    for address in addresses:
        deleted = client.uapi(user, "Email", "delete_held_messages", {"email": address})
        held += int(deleted) if isinstance(deleted, int | str) and str(deleted).isdigit() else 0
    for chunk in _batches(ids, max(settings.batch, 1)):
        client.call("remove_messages_mail_queue", {"msgids": ",".join(chunk)})
    after = _wait_gone(client, addresses, settings) if before else []
    removed = len({m.msgid for m in before} - {m.msgid for m in after})
    facts: dict[str, object] = {
        "removed": removed,
        "left": len(after),
        "held_deleted": held,
        "queued_before": len(before),
    }
    if after:
        raise VerificationFailed(
            f"removed {removed:,}, {len(after):,} still queued",
            detail=f"{len(after)} message(s) from the target after {settings.wait_s:g}s",
        )
    summary = f"removed {removed:,}, 0 left"
    return TargetResult(target, state=TargetState(target, summary, {**facts, "verified": True}))


def _wait_gone(
    client: WhmClient, addresses: Sequence[str], settings: PurgeSettings
) -> list[QueueMessage]:
    """Re-read the queue (WHM removes in the background) until none is left or time is up."""
    until = time.monotonic() + settings.wait_s
    pause = settings.poll_s
    while True:
        left = _targets_messages(client, addresses)
        if not left or time.monotonic() + pause > until:
            return left
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)
