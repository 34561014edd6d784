"""Turn the Exchange script's per-item records into TargetResults, verifying every change.

The script reports what it read before and after; the decision whether the read-back matches
the requested state is made here, in Python, so it is testable and cannot be skipped.
"""

from __future__ import annotations

from collections.abc import Mapping

from providers.base import TargetResult, TargetState
from providers.errors import ProtocolError, VerificationFailed
from providers.exchange_errors import classify_error
from providers.targets import Scope, Target, Verb

__all__ = ["DESIRED", "to_result"]

# SmtpClientAuthenticationDisabled value each change verb must leave behind (None = follow org).
DESIRED: dict[Verb, bool | None] = {Verb.DISABLE: True, Verb.ENABLE: False, Verb.RESET: None}
_MISSING = object()


def _opt_bool(item: Mapping[str, object], key: str) -> bool | None:
    value = item.get(key, _MISSING)
    if isinstance(value, bool) or value is None:
        return value
    raise ProtocolError("The Exchange script returned a malformed value.", detail=f"field {key}")


def _bool(item: Mapping[str, object], key: str) -> bool:
    value = _opt_bool(item, key)
    if value is None:
        raise ProtocolError("The Exchange script returned a null flag.", detail=f"field {key}")
    return value


def _word(disabled: bool) -> str:
    return "disabled" if disabled else "enabled"


def _ps_bool(value: bool | None) -> str:
    return "$null" if value is None else f"${str(value).lower()}"


def state_of(target: Target, item: Mapping[str, object], *, key: str = "after") -> TargetState:
    """The state a record shows: explicit vs inherited for mailboxes, effective value for both."""
    org = _bool(item, "org")
    if target.scope is Scope.TENANT:
        value = _bool(item, key)
        return TargetState(
            target,
            f"SMTP AUTH {_word(value)} for the whole organisation "
            f"(SmtpClientAuthenticationDisabled = {_ps_bool(value)})",
            {"smtp_client_authentication_disabled": value},
        )
    explicit = _opt_bool(item, key)
    effective = org if explicit is None else explicit
    how = (
        f"follows the organisation (mailbox $null, organisation {_ps_bool(org)})"
        if explicit is None
        else f"set on the mailbox ({_ps_bool(explicit)}; organisation {_ps_bool(org)})"
    )
    facts: dict[str, object] = {
        "smtp_client_authentication_disabled": explicit,
        "inherited": explicit is None,
        "effective_disabled": effective,
        "organization_disabled": org,
        "guid": str(item.get("guid") or ""),
        "primary_smtp_address": str(item.get("primary_smtp") or ""),
    }
    return TargetState(target, f"SMTP AUTH {_word(effective)} for {target}: {how}", facts)


def _planned(target: Target, item: Mapping[str, object], desired: bool | None) -> str:
    if target.scope is Scope.TENANT:
        return f"Set-TransportConfig -SmtpClientAuthenticationDisabled {_ps_bool(desired)}"
    return (
        f"Set-CASMailbox -Identity {item.get('guid')} "
        f"-SmtpClientAuthenticationDisabled {_ps_bool(desired)}"
    )


def to_result(
    target: Target,
    item: Mapping[str, object],
    *,
    verb: Verb | None,
    dry_run: bool,
) -> TargetResult:
    """One record to one result; ``verb`` is None for reads (check/status)."""
    error = item.get("error")
    if error is not None:
        if not isinstance(error, Mapping):
            raise ProtocolError("The Exchange script returned a malformed error.")
        return TargetResult(target, error=classify_error(error, target=str(target)))
    if verb is None:
        return TargetResult(target, state=state_of(target, item))
    desired = DESIRED[verb]
    if dry_run:
        planned = (_planned(target, item, desired),) if item.get("would_set") is True else ()
        return TargetResult(target, state=state_of(target, item, key="before"), planned=planned)
    state = state_of(target, item)
    after = _bool(item, "after") if target.scope is Scope.TENANT else _opt_bool(item, "after")
    if after is not desired:
        return TargetResult(
            target,
            error=VerificationFailed(
                f"Exchange accepted the change for {target}, but it reads back "
                f"SmtpClientAuthenticationDisabled = {_ps_bool(after)}, "
                f"not {_ps_bool(desired)}.",
                detail=f"changed={item.get('changed')}",
            ),
        )
    return TargetResult(target, state=state)
