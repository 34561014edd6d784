"""What a command acts on: scopes, verbs and validated targets.

Targets are validated here, once, with conservative rules, so that no provider ever sees a
string that could smuggle extra parameters into a URL or code into a script.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from providers.errors import InvalidTarget

__all__ = [
    "ALL_ACCOUNTS_KEY",
    "CHANGE_VERBS",
    "LIMIT_PREFIX",
    "LOGIN_PREFIX",
    "SETTING_PREFIX",
    "Scope",
    "Target",
    "Verb",
]


class Scope(StrEnum):
    """How much a target covers."""

    TENANT = "tenant"  # the whole WHM server or Exchange organisation
    ACCOUNT = "account"  # one cPanel account (WHM only)
    MAILBOX = "mailbox"  # one mailbox: an address, or an Exchange GUID
    SETTING = "setting"  # one server setting and its new value, ``key=value`` (WHM Tweak Setting)
    LOGIN = "login"  # one mailbox's login (IMAP/POP, SMTP AUTH), named by its address (WHM)
    LIMIT = "limit"  # one account's hourly send limit and its new value, ``NAME=value`` (WHM)
    ALL_ACCOUNTS = "all_accounts"  # every cPanel account on the server (WHM), listed at execution


class Verb(StrEnum):
    """What to do with outbound SMTP for a target."""

    DISABLE = "disable"
    ENABLE = "enable"
    HOLD = "hold"
    RELEASE = "release"
    RESET = "reset"
    SET = "set"  # server settings to the values their targets carry
    STATUS = "status"
    PURGE = "purge"  # delete the target's queued outgoing mail (WHM); cannot be undone
    QUEUE = "queue"  # read the mail queue (WHM); read-only
    LIMIT = "limit"  # accounts' hourly send limits to the values their targets carry (WHM)
    TOP = "top"  # read who sent the most mail, from email tracking (WHM); read-only


CHANGE_VERBS = frozenset(
    {Verb.DISABLE, Verb.ENABLE, Verb.HOLD, Verb.RELEASE, Verb.RESET, Verb.PURGE, Verb.SET}
    | {Verb.LIMIT}
)

_MAX_ADDRESS = 254
# No "%" (source routing, and a URL escape: "%26" is "&" to anything that decodes it twice)
# and no "=" (a query-string separator): a mailbox never needs them, a hostile target does.
_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#+_^~-]+(?:\.[A-Za-z0-9!#+_^~-]+)*$")
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
ACCOUNT_PREFIX = "account:"
ALL_ACCOUNTS_KEY = "account:*"  # --all-accounts, as stored until the accounts are listed
SETTING_PREFIX = "setting:"
LOGIN_PREFIX = "login:"
LIMIT_PREFIX = "limit:"
# an account and a limit: a number (0 and "default": the server's limit applies), or unlimited
_LIMIT_RE = re.compile(r"^[a-z][a-z0-9]{0,15}=(?:unlimited|default|[0-9]{1,9})$")
_SETTING_RE = re.compile(
    r"^[a-z][a-z0-9_]{0,63}(?:=[a-z0-9]{1,12})?$"
)  # the provider checks meaning


def _valid_domain(domain: str) -> bool:
    if not domain or len(domain) > 253:
        return False
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    return all(_LABEL_RE.match(label) for label in labels) and bool(_TLD_RE.match(labels[-1]))


def _mailbox(text: str) -> Target:
    if len(text) > _MAX_ADDRESS or text.count("@") != 1:
        raise InvalidTarget(f"“{_shown(text)}” is not a valid email address.")
    local, domain = text.split("@")
    domain = domain.lower()
    if len(local) > 64 or not _LOCAL_RE.match(local) or not _valid_domain(domain):
        raise InvalidTarget(f"“{_shown(text)}” is not a valid email address.")
    return Target(Scope.MAILBOX, f"{local}@{domain}")


def _shown(text: str, limit: int = 80) -> str:
    """A printable, bounded rendering of user text for error messages."""
    clean = "".join(ch if ch.isprintable() else "�" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Target:
    """A validated target. ``name`` is empty for the whole tenant."""

    scope: Scope
    name: str = ""

    @classmethod
    def tenant(cls) -> Target:
        return cls(Scope.TENANT)

    @classmethod
    def all_accounts(cls) -> Target:
        return cls(Scope.ALL_ACCOUNTS)

    @classmethod
    def parse(cls, text: str) -> Target:
        """Parse ``user@domain``, ``account:NAME`` or an Exchange mailbox GUID.

        Raises InvalidTarget with a message fit for the person who typed it.
        """
        text = text.strip()
        if not text:
            raise InvalidTarget("The target is empty.")
        if text == ALL_ACCOUNTS_KEY:
            return cls.all_accounts()
        if text.lower().startswith(ACCOUNT_PREFIX):
            name = text[len(ACCOUNT_PREFIX) :]
            if not _ACCOUNT_RE.match(name):
                raise InvalidTarget(
                    f"“{_shown(name)}” is not a valid cPanel account name "
                    "(lowercase letter first, then letters or digits, at most 16)."
                )
            return cls(Scope.ACCOUNT, name)
        if text.startswith(SETTING_PREFIX):
            name = text[len(SETTING_PREFIX) :]
            if not _SETTING_RE.match(name):
                raise InvalidTarget(f"“{_shown(name)}” is not a setting (key or key=value).")
            return cls(Scope.SETTING, name)
        if text.startswith(LOGIN_PREFIX):
            return cls(Scope.LOGIN, _mailbox(text[len(LOGIN_PREFIX) :]).name)
        if text.startswith(LIMIT_PREFIX):
            name = text[len(LIMIT_PREFIX) :]
            if not _LIMIT_RE.match(name):
                raise InvalidTarget(f"“{_shown(name)}” is not an account limit (NAME=value).")
            return cls(Scope.LIMIT, name)
        if _GUID_RE.match(text):
            return cls(Scope.MAILBOX, str(uuid.UUID(text)))
        if "@" in text:
            return _mailbox(text)
        raise InvalidTarget(
            f"“{_shown(text)}” is not a target: use user@domain, account:NAME or a mailbox GUID."
        )

    @property
    def domain(self) -> str | None:
        """The mail domain of an address target (a mailbox or its login), else None."""
        if self.scope in (Scope.MAILBOX, Scope.LOGIN) and "@" in self.name:
            return self.name.rsplit("@", 1)[1]
        return None

    @property
    def is_guid(self) -> bool:
        return self.scope is Scope.MAILBOX and bool(_GUID_RE.match(self.name))

    def __str__(self) -> str:
        if self.scope is Scope.TENANT:
            return "(whole tenant)"
        if self.scope is Scope.ACCOUNT:
            return ACCOUNT_PREFIX + self.name
        if self.scope is Scope.ALL_ACCOUNTS:
            return ALL_ACCOUNTS_KEY
        if self.scope is Scope.SETTING:
            return SETTING_PREFIX + self.name
        if self.scope is Scope.LOGIN:
            return LOGIN_PREFIX + self.name
        if self.scope is Scope.LIMIT:
            return LIMIT_PREFIX + self.name
        return self.name

    def key(self) -> str:
        """Stable text form for storage; ``Target.from_key(t.key()) == t``."""
        return "*" if self.scope is Scope.TENANT else str(self)

    @classmethod
    def from_key(cls, key: str) -> Target:
        return cls.tenant() if key == "*" else cls.parse(key)
