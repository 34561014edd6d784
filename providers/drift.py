"""What a change leaves behind, in a back end's own facts: so a later status read can tell
whether it still holds (drift), without knowing anything but ``Provider.status``.

The facts are the ones each provider already verifies a change by: WHM's
``accountsummary``/``list_pops_with_disk`` flags and ``get_tweaksetting`` values
(``providers/whm.py``, ``providers/whm_settings.py``), Exchange's
``SmtpClientAuthenticationDisabled`` (``providers/exchange_results.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from providers import whm_login
from providers.exchange_results import DESIRED
from providers.targets import Scope, Target, Verb

# the verification tables whm.py checks every change against: one source of truth
from providers.whm import _ACCOUNT_CALLS, _MAILBOX_CALLS, _TENANT_VALUES, TWEAK_KEY

__all__ = ["WATCHED_VERBS", "Difference", "differences", "expected_facts"]

# the changes that restrict or set something meant to stay: what drift checks watch
WATCHED_VERBS = frozenset({Verb.DISABLE, Verb.HOLD, Verb.SET, Verb.LIMIT})


def _whm(verb: Verb, scope: Scope) -> dict[str, object] | None:
    if scope is Scope.SETTING:
        return {"value": None} if verb is Verb.SET else None  # the value it was set to
    if scope is Scope.LIMIT:  # an account's hourly limit: the value it was set to
        return {"value": None} if verb is Verb.LIMIT else None
    if scope is Scope.LOGIN:  # disable --login: the mailbox's login stays suspended
        return {whm_login.FACT: 1} if verb is Verb.DISABLE else None
    if scope is Scope.TENANT:
        return {TWEAK_KEY: _TENANT_VALUES[verb]} if verb in _TENANT_VALUES else None
    calls = _ACCOUNT_CALLS if scope is Scope.ACCOUNT else _MAILBOX_CALLS
    if verb not in calls:
        return None
    _function, fact, value = calls[verb]
    return {fact: value}


def _exchange(verb: Verb, scope: Scope) -> dict[str, object] | None:
    if verb is not Verb.DISABLE or scope not in (Scope.TENANT, Scope.MAILBOX):
        return None  # reset follows the organisation: nothing of the bot's own to keep
    return {"smtp_client_authentication_disabled": DESIRED[verb]}


_BY_KIND = {"whm": _whm, "exchange": _exchange}


def expected_facts(
    kind: str, verb: str, target: Target, verified: Mapping[str, object] | None
) -> dict[str, object] | None:
    """The facts a status read of ``target`` must show while ``verb`` (executed on a
    ``kind`` back end) is in force; None when the change is not one drift checks watch.
    Values come from the verified read-back where it has them (a setting's new value)."""
    try:
        change = Verb(verb)
    except ValueError:
        return None
    rule = _BY_KIND.get(kind)
    if change not in WATCHED_VERBS or rule is None:
        return None
    expected = rule(change, target.scope)
    if expected is None:
        return None
    facts = dict(verified or {})
    for name, value in list(expected.items()):
        if name in facts and facts[name] is not None:
            expected[name] = facts[name]
        elif value is None:
            return None  # nothing verified to compare with
    return expected


@dataclass(frozen=True, slots=True)
class Difference:
    """One fact that reads otherwise than the change left it."""

    fact: str
    expected: object
    now: object

    def __str__(self) -> str:
        return f"{self.fact} {_shown(self.expected)} → {_shown(self.now)}"


def differences(expected: Mapping[str, object], facts: Mapping[str, object]) -> list[Difference]:
    """The expected facts a status read's ``facts`` do not show (empty: the change holds)."""
    now = _plain(facts)
    return [
        Difference(name, value, now.get(name))
        for name, value in expected.items()
        if value != now.get(name)
    ]


def _plain(facts: Mapping[str, object]) -> dict[str, object]:
    """The facts as stored (through JSON), so stored and live values compare alike."""
    loaded = json.loads(json.dumps(dict(facts), default=str))
    return loaded if isinstance(loaded, dict) else {}


def _shown(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
