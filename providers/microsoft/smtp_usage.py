"""Who still uses SMTP AUTH, and what an org-wide disable would do to each of them.

Sign-ins (Graph) become one row per user: how many, when last, from which addresses. Each
row's mailbox is then read through the tenant's Exchange provider (``Provider.status``, the
organisation and every mailbox in one call, whichever transport the provider uses), and its
own ``SmtpClientAuthenticationDisabled`` decides: ``$null`` follows the organisation and would
break, ``$false`` stays allowed, ``$true`` is already blocked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from providers.base import Provider, TargetResult
from providers.errors import InvalidTarget, ProviderError
from providers.microsoft.graph_signins import GraphSignIns, SignIn
from providers.targets import Scope, Target

__all__ = ["Impact", "UsageReport", "UsageRow", "UserSignIns", "aggregate", "assess", "read_usage"]

_FLAG = "smtp_client_authentication_disabled"


class Impact(StrEnum):
    """What ``Set-TransportConfig -SmtpClientAuthenticationDisabled $true`` would do to a user."""

    BREAKS = "breaks"  # own setting $null, organisation allows it now: it would stop working
    STAYS = "stays"  # own setting $false: keeps SMTP AUTH whatever the organisation says
    BLOCKED = "blocked"  # own setting $true: blocked already
    ORG_OFF = "org_off"  # own setting $null, organisation already off: blocked already
    UNKNOWN = "unknown"  # its mailbox could not be read: decide by hand

    @property
    def order(self) -> int:
        """Worst first: who breaks, who nobody could read, who stays, who is blocked."""
        return _ORDER[self]


_ORDER = {
    Impact.BREAKS: 0,
    Impact.UNKNOWN: 1,
    Impact.STAYS: 2,
    Impact.ORG_OFF: 3,
    Impact.BLOCKED: 4,
}


@dataclass(frozen=True, slots=True)
class UserSignIns:
    """One user's successful SMTP AUTH sign-ins in the window."""

    user: str
    sign_ins: int
    last_seen: datetime
    addresses: tuple[str, ...]  # source IPs, the most frequent first


@dataclass(frozen=True, slots=True)
class UsageRow:
    """A user's sign-ins, their mailbox's own setting and what a disable would do to them."""

    usage: UserSignIns
    impact: Impact
    own_setting: bool | None = None
    target: Target | None = None  # the mailbox to exempt (None: not resolved)
    problem: str = ""  # why the mailbox could not be read (UNKNOWN)


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The rows (worst first), the organisation's setting now, and how the read went."""

    since: datetime
    rows: tuple[UsageRow, ...]
    org_disabled: bool | None  # None: the organisation's setting could not be read
    org_problem: str = ""
    truncated: bool = False  # the sign-in log had more pages than were read
    pages: int = 0

    def with_impact(self, *impacts: Impact) -> list[UsageRow]:
        return [r for r in self.rows if r.impact in impacts]

    @property
    def exceptions(self) -> list[Target]:
        """The mailboxes an org-wide disable must keep allowed: those that use SMTP AUTH now
        (own ``$null`` that would break, and own ``$false`` made explicit again)."""
        keep = self.with_impact(Impact.BREAKS, Impact.STAYS)
        return [r.target for r in keep if r.target is not None]


def aggregate(sign_ins: Sequence[SignIn]) -> list[UserSignIns]:
    """One row per user, the most active first (then the most recent)."""
    by_user: dict[str, list[SignIn]] = {}
    for sign_in in sign_ins:
        by_user.setdefault(sign_in.user_principal_name, []).append(sign_in)
    rows = [
        UserSignIns(
            user=user,
            sign_ins=len(items),
            last_seen=max(s.created for s in items),
            addresses=tuple(
                ip for ip, _ in Counter(s.ip_address for s in items if s.ip_address).most_common()
            ),
        )
        for user, items in by_user.items()
    ]
    return sorted(rows, key=lambda r: (-r.sign_ins, -r.last_seen.timestamp(), r.user))


def _own(result: TargetResult) -> tuple[bool | None, str]:
    """The mailbox's own setting from a status result, or the reason it is unknown."""
    if result.error is not None:
        return None, result.error.user_message
    facts = result.state.facts if result.state is not None else {}
    value = facts.get(_FLAG, "missing")
    if value is None or isinstance(value, bool):
        return value, ""
    return None, "the back end did not say the mailbox's own setting"


def assess(
    users: Sequence[UserSignIns],
    targets: Sequence[Target | str],
    statuses: Sequence[TargetResult],
    org: TargetResult,
) -> tuple[list[UsageRow], bool | None, str]:
    """Rows from users, their mailbox targets (or why there is none) and status results
    (one per Target, in order); returns the rows worst first, the org setting and its problem."""
    org_disabled: bool | None = None
    org_problem = org.error.user_message if org.error is not None else ""
    if org.error is None and org.state is not None:
        value = org.state.facts.get(_FLAG)
        org_disabled = value if isinstance(value, bool) else None
        org_problem = "" if org_disabled is not None else "the organisation's setting is unreadable"
    results = iter(statuses)
    rows: list[UsageRow] = []
    for usage, target in zip(users, targets, strict=True):
        if isinstance(target, str):
            rows.append(UsageRow(usage, Impact.UNKNOWN, problem=target))
            continue
        own, problem = _own(next(results))
        if problem:
            rows.append(UsageRow(usage, Impact.UNKNOWN, target=target, problem=problem))
        elif own is True:
            rows.append(UsageRow(usage, Impact.BLOCKED, True, target))
        elif own is False:
            rows.append(UsageRow(usage, Impact.STAYS, False, target))
        elif org_disabled is None:
            rows.append(UsageRow(usage, Impact.UNKNOWN, None, target, org_problem))
        else:
            rows.append(
                UsageRow(usage, Impact.ORG_OFF if org_disabled else Impact.BREAKS, None, target)
            )
    rows.sort(key=lambda r: (r.impact.order, -r.usage.sign_ins, r.usage.user))
    return rows, org_disabled, org_problem


def read_usage(
    graph: GraphSignIns,
    provider: Provider,
    since: datetime,
    *,
    refuse: Callable[[Target], str | None] = lambda target: None,
) -> UsageReport:
    """Sign-ins since ``since``, then the organisation and every user's mailbox in one status
    call. ``refuse``: why the bot may not act on a mailbox (outside the tenant's domains), or
    None. Raises the Graph read's ProviderError; a failed status read is per row."""
    log = graph.smtp_auth_sign_ins(since)
    users = aggregate(log.sign_ins)
    targets: list[Target | str] = []
    for usage in users:
        try:
            target = Target.parse(usage.user)
        except InvalidTarget as exc:
            targets.append(f"not a mailbox address the bot can act on ({exc.user_message})")
            continue
        if target.scope is not Scope.MAILBOX:
            targets.append("not a mailbox address the bot can act on")
            continue
        targets.append(refuse(target) or target)
    mailboxes = [t for t in targets if isinstance(t, Target)]
    try:
        results = provider.status([Target.tenant(), *mailboxes])
    except ProviderError as exc:
        results = [TargetResult(t, error=exc) for t in [Target.tenant(), *mailboxes]]
    org, statuses = results[0], results[1:]
    rows, org_disabled, org_problem = assess(users, targets, statuses, org)
    return UsageReport(
        since=since,
        rows=tuple(rows),
        org_disabled=org_disabled,
        org_problem=org_problem,
        truncated=log.truncated,
        pages=log.pages,
    )
