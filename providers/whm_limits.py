"""An account's hourly send limit on WHM: ``modifyacct`` with ``MAX_EMAIL_PER_HOUR``, read
back from ``accountsummary`` (``max_email_per_hour``, and ``plan`` for the package warning).

``modifyacct`` parameters are case-sensitive and a wrongly-cased one is ignored without an
error, so only the read-back says whether the limit changed. Values: a number (each of the
account's domains may send that many messages an hour to remote addresses), ``unlimited``,
or ``default`` (no account value: the server's Tweak Setting applies); ``0`` also falls back
to the server's value. See docs/whm-incident.md for the sources.
"""

from __future__ import annotations

import re

from providers.base import TargetResult, TargetState
from providers.errors import (
    InvalidTarget,
    ProtocolError,
    ProviderError,
    Rejected,
    TargetNotFound,
    VerificationFailed,
)
from providers.targets import ACCOUNT_PREFIX, LIMIT_PREFIX, Scope, Target, Verb
from providers.whm_client import WhmClient

__all__ = ["CAPABILITIES", "MAX_LIMIT", "apply", "limit_target", "shown", "split", "state"]

CAPABILITIES = frozenset({(Scope.LIMIT, Verb.LIMIT), (Scope.LIMIT, Verb.STATUS)})
MAX_LIMIT = 1_000_000  # the bot's own cap: cPanel sets none
PARAM = "MAX_EMAIL_PER_HOUR"  # modifyacct: case-sensitive
NO_PACKAGE = "undefined"  # accountsummary's ``plan`` for an account without a package
_UNSET = {"", "*unknown*", "default"}  # accountsummary when the account has no value
_DIGITS = re.compile(r"^[0-9]{1,9}$")


def limit_target(account: str, value: str) -> Target:
    """``limit:NAME=value``: validated like every other target."""
    return Target.parse(f"{LIMIT_PREFIX}{account}={value}")


def split(target: Target) -> tuple[str, str]:
    """(account, value) of a ``limit:NAME=value`` target."""
    account, _, value = target.name.partition("=")
    return account, value


def shown(value: str) -> str:
    """A value in words: ``100 an hour``, ``unlimited``, ``the server's limit``."""
    if value == "unlimited":
        return "unlimited"
    if value == "default":
        return "the server's limit (no account value)"
    if value == "0":
        return "0 (the server's limit applies)"
    return f"{int(value):,} an hour"


def _normalised(raw: object) -> str:
    if raw is None or (isinstance(raw, str) and raw.strip() in _UNSET):
        return "default"
    text = str(raw).strip()
    if text.lower() == "unlimited":
        return "unlimited"
    if _DIGITS.match(text):
        return str(int(text))
    raise ProtocolError(f"WHM accountsummary sent an unreadable max_email_per_hour: {text[:40]!r}")


def status_words(acct: dict[str, object]) -> str:
    """``; hourly limit per domain: 100 an hour`` for an account record with its own limit
    (``/smtp status account:NAME``), empty when the server's limit applies or it is unreadable."""
    try:
        value = _normalised(acct.get("max_email_per_hour"))
    except ProtocolError:
        return ""
    return "" if value in ("default", "0") else f"; hourly limit per domain: {shown(value)}"


def _read(client: WhmClient, account: str) -> tuple[str, str]:
    """(limit, package) as accountsummary reports them now."""
    try:
        acct = client.account(account)
    except Rejected as exc:  # "Account does not exist." (or no access to it)
        raise TargetNotFound(
            f"no cPanel account {account} on this server ({exc.user_message})"
        ) from exc
    if acct is None:
        raise TargetNotFound(f"no cPanel account {account} on this server")
    plan = acct.get("plan")
    return _normalised(acct.get("max_email_per_hour")), str(plan) if plan else NO_PACKAGE


def _warning(account: str, plan: str) -> str:
    if plan == NO_PACKAGE:
        return ""
    return (
        f"{ACCOUNT_PREFIX}{account} uses the hosting package “{plan}”: a change to that "
        "package (or moving the account to another one) sets this limit to the package's value."
    )


def _facts(account: str, value: str, plan: str) -> dict[str, object]:
    facts: dict[str, object] = {"account": account, "value": value, "plan": plan}
    warning = _warning(account, plan)
    if warning:
        facts["warning"] = warning
    return facts


def state(client: WhmClient, target: Target) -> TargetState:
    """The account's hourly limit as read now (``restorable``: --for can always put it back)."""
    account, _ = split(target)
    value, plan = _read(client, account)
    facts = _facts(account, value, plan) | {"restorable": True}
    return TargetState(target, f"hourly limit per domain: {shown(value)}", facts)


def apply(client: WhmClient, target: Target, *, dry_run: bool = False) -> TargetResult:
    """Set the target's limit, read it back, and keep the previous value for --for."""
    account, value = split(target)
    if not value:  # a revert with no previous value recorded: nothing safe to send
        raise InvalidTarget(
            f"no value to set for {ACCOUNT_PREFIX}{account} (no previous value was recorded)",
            before_change=True,
        )
    try:
        previous, plan = _read(client, account)
    except ProviderError as exc:
        exc.before_change = True
        raise
    call = f"modifyacct user={account} {PARAM}={value}"
    if dry_run:
        summary = f"hourly limit per domain: {shown(previous)}"
        state_now = TargetState(target, summary, _facts(account, previous, plan))
        return TargetResult(target, state=state_now, planned=(call,))
    client.call("modifyacct", {"user": account, PARAM: value})
    now, plan = _read(client, account)
    if now != value:
        raise VerificationFailed(
            f"WHM accepted {call} but the account's limit now reads {shown(now)}",
            detail=f"accountsummary max_email_per_hour={now!r}, expected {value!r}",
        )
    facts = _facts(account, now, plan) | {"previous": previous, "verified": True}
    summary = f"hourly limit was {shown(previous)}, now {shown(now)} (read back)"
    return TargetResult(target, state=TargetState(target, summary, facts))
