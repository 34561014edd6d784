"""Mailboxes over REST in three phases, each phase one spread of $batch requests.

1. resolve: ``Get-CASMailbox -Identity <as typed>``: exactly one mailbox, else TargetNotFound or
   AmbiguousTarget (raised before any change); its GUID is kept and used from here on;
2. change: ``Set-CASMailbox -Identity <GUID> -SmtpClientAuthenticationDisabled <true|false|null>``
   for the mailboxes not already in the wanted state;
3. read back: ``Get-CASMailbox -Identity <GUID>``, and again after a short wait for those that
   still show the old value (a replica that has not caught up), a bounded number of times.

Every Get selects its properties explicitly and a property that is missing from the reply is
an error, never read as null: CIPP's DisableBasicAuthSMTP read SmtpClientAuthenticationDisabled
as null from objects that did not carry it (KelvinTegelaar/CIPP#5450), and for a mailbox null
means "follows the organisation", a real third state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from providers import deadline
from providers.errors import AmbiguousTarget, ProtocolError, ProviderError, ProviderTimeout
from providers.exchange_errors import classify_error
from providers.exchange_rest.client import ExoRestClient
from providers.exchange_rest.wire import Command, Outcome
from providers.targets import Target

__all__ = ["Item", "MailboxFlow", "SELECT", "flag"]

PROPERTY = "SmtpClientAuthenticationDisabled"
SELECT = ("Guid", "PrimarySmtpAddress", PROPERTY)
_TEXT = {"true": True, "false": False, "": None}


def flag(record: Mapping[str, object], key: str, *, what: str) -> bool | None:
    """A three-state flag from a record; absent or malformed is a ProtocolError."""
    if key not in record:
        raise ProtocolError(
            f"Exchange Online's reply for {what} does not carry {key} "
            "(a property missing from the reply is not $null).",
            detail=f"keys: {', '.join(sorted(record)[:8])}",
        )
    value = record[key]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TEXT:
        return _TEXT[value.strip().lower()]
    raise ProtocolError(f"Exchange Online sent a malformed {key} for {what}.")


@dataclass
class Item:
    """One mailbox through the phases; the WinRM script's per-item record, as fields."""

    target: Target
    guid: str = ""
    primary_smtp: str = ""
    before: bool | None = None
    after: bool | None = None
    changed: bool = False
    would_set: bool = False
    error: ProviderError | None = None

    def record(self, org: bool) -> dict[str, object]:
        """The record ``exchange_results.to_result`` reads (``error`` as a typed error)."""
        return {
            "scope": "mailbox", "identity": self.target.name, "guid": self.guid,
            "primary_smtp": self.primary_smtp, "before": self.before, "after": self.after,
            "org": org, "changed": self.changed, "would_set": self.would_set,
            "error": self.error,
        }  # fmt: skip


class MailboxFlow:
    """The three phases for a list of mailboxes; ``reread`` is the waits between re-reads."""

    def __init__(self, client: ExoRestClient, *, reread: tuple[float, ...]) -> None:
        self._client = client
        self.reread = reread

    def resolve(self, targets: Sequence[Target]) -> list[Item]:
        """Phase 1: each identity to exactly one mailbox, its GUID and current flag."""
        items = [Item(t) for t in targets]
        if not items:
            return items
        commands = [Command("Get-CASMailbox", {"Identity": t.name}, SELECT) for t in targets]
        for item, outcome in zip(items, self._client.run(commands), strict=True):
            try:
                guid, smtp, value = self._one(item.target, outcome)
            except ProviderError as exc:
                exc.before_change = True  # resolving a mailbox changes nothing
                item.error = exc
                continue
            item.guid, item.primary_smtp = guid, smtp
            item.before = item.after = value
        return items

    def change(self, items: Sequence[Item], want: bool | None, *, dry: bool) -> None:
        """Phases 2 and 3 for the resolved items whose flag is not ``want`` yet."""
        todo = [i for i in items if i.error is None and i.before is not want]
        if dry:
            for item in todo:
                item.would_set = True
            return
        if not todo:
            return
        sets = [Command("Set-CASMailbox", {"Identity": i.guid, PROPERTY: want}, ()) for i in todo]
        changed: list[Item] = []
        for item, outcome in zip(todo, self._client.run(sets), strict=True):
            error = self._error(item.target, outcome)
            if error is not None:
                item.error = error
            else:
                item.changed = True
                changed.append(item)
        self._read_back(changed, want)

    def _read_back(self, items: list[Item], want: bool | None) -> None:
        pending = items
        for delay in (0.0, *self.reread):
            if not pending:
                return
            if delay:
                try:
                    self.wait(delay)
                except ProviderTimeout:
                    return  # the last read stands; to_result words the mismatch
            gets = [Command("Get-CASMailbox", {"Identity": i.guid}, SELECT) for i in pending]
            lagging: list[Item] = []
            for item, outcome in zip(pending, self._client.run(gets), strict=True):
                try:
                    _, _, item.after = self._one(item.target, outcome)
                except ProviderError as exc:
                    item.error = exc
                    continue
                if item.after is not want:
                    lagging.append(item)
            pending = lagging

    def wait(self, seconds: float) -> None:
        """Sleep before a re-read, but never past the caller's deadline."""
        left = deadline.remaining()
        if left is not None and left <= seconds:
            raise ProviderTimeout("Exchange Online did not show the change before time ran out")
        self._client.sleep(seconds)

    def _one(self, target: Target, outcome: Outcome) -> tuple[str, str, bool | None]:
        error = self._error(target, outcome)
        if error is not None:
            raise error
        if len(outcome.value) > 1:
            raise AmbiguousTarget(
                f"“{target}” matches more than one mailbox; use its GUID.",
                detail=f"Get-CASMailbox returned {len(outcome.value)} mailboxes",
            )
        if not outcome.value:
            raise classify_error(
                {"type": "ManagementObjectNotFoundException", "message": "no record"},
                target=str(target),
            )
        record = outcome.value[0]
        guid = str(record.get("Guid") or "")
        if not guid:
            raise ProtocolError(f"Exchange Online returned no GUID for {target}.")
        value = flag(record, PROPERTY, what=str(target))
        return guid, str(record.get("PrimarySmtpAddress") or ""), value

    @staticmethod
    def _error(target: Target, outcome: Outcome) -> ProviderError | None:
        if outcome.failure is not None:
            return outcome.failure
        if outcome.record is not None:
            return classify_error(outcome.record, target=str(target))
        return None
