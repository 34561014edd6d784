"""A mailbox's login on WHM: UAPI ``Email::suspend_login`` / ``Email::unsuspend_login``
through ``uapi_cpanel``, read back from ``Email::list_pops_with_disk`` (``suspended_login``).

A suspended login refuses new authenticated connections with the mailbox's password (IMAP,
POP3 and SMTP AUTH); the mailbox still receives mail. See docs/whm-incident.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from providers.base import TargetState
from providers.errors import InvalidTarget
from providers.targets import Scope, Target, Verb
from providers.whm_client import WhmClient, flag

__all__ = ["CAPABILITIES", "FACT", "login_summary", "plan", "state"]

FACT = "suspended_login"  # Email::list_pops_with_disk (get_restrictions=1)
# verb -> (UAPI Email function, value of suspended_login expected on read-back)
_CALLS = {Verb.DISABLE: ("suspend_login", 1), Verb.ENABLE: ("unsuspend_login", 0)}
CAPABILITIES = frozenset({(Scope.LOGIN, v) for v in (*_CALLS, Verb.STATUS)})


def login_summary(suspended: int) -> str:
    if suspended:
        return "login suspended: new IMAP/POP and SMTP AUTH logins with its password are refused"
    return "login allowed (IMAP/POP and SMTP AUTH)"


def state(target: Target, mailbox: TargetState) -> TargetState:
    """The login of ``target`` in words, from its mailbox's state as read."""
    suspended = flag(mailbox.facts.get(FACT))
    return TargetState(target, login_summary(suspended), dict(mailbox.facts))


def plan(
    client: WhmClient, verb: Verb, target: Target, owner: str
) -> tuple[str, Callable[[], object], str, int]:
    """The change as (description, call, fact to read back, expected value)."""
    if verb not in _CALLS:
        raise InvalidTarget(f"WHM cannot {verb} a mailbox's login: only disable and enable.")
    function, expected = _CALLS[verb]
    change = partial(client.uapi, owner, "Email", function, {"email": target.name})
    return f"uapi_cpanel Email::{function} email={target.name}", change, FACT, expected
