"""The outbound-mail Tweak Settings the bot may read and change, as data.

Each key's type, range and meaning come from cPanel's source and docs (docs/whm-incident.md,
"/smtp policy" and "/smtp set", has the sources). User text is checked here against that
data before anything is stored, so only a known key and a value of its type ever reach WHM,
and then only as the ``key`` and ``value`` parameters of ``set_tweaksetting``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from providers.errors import InvalidTarget
from providers.targets import Scope, Target

__all__ = [
    "TWEAKS",
    "Kind",
    "Tweak",
    "parse_assignment",
    "setting_target",
    "shown_value",
    "split_target",
    "tweak_of",
    "whm_value",
]

MAX_NUMBER = 999_999_999  # cPanel sets no upper bound on its "natural number" settings


class Kind(StrEnum):
    BOOL = "bool"  # cPanel "binary": 0 or 1, typed on/off
    INT = "int"  # a whole number in [minimum, maximum]
    ENUM = "enum"  # one of options


@dataclass(frozen=True, slots=True)
class Tweak:
    """One Tweak Setting: what it is, what values it takes, what it does."""

    key: str
    kind: Kind
    label: str
    what: str
    minimum: int = 1
    maximum: int = MAX_NUMBER
    options: tuple[str, ...] = ()
    unset_means: str = ""  # what an unset value means ("unlimited"); "" when it has a default
    unit: str = ""

    def allowed(self) -> str:
        """The values people may type, for messages."""
        if self.kind is Kind.BOOL:
            return "on or off"
        if self.kind is Kind.ENUM:
            return " | ".join(self.options)
        return f"a whole number from {self.minimum:,} to {self.maximum:,}{self.unit}"


def _tweaks(*items: Tweak) -> dict[str, Tweak]:
    return {t.key: t for t in items}


TWEAKS: dict[str, Tweak] = _tweaks(
    Tweak(
        "smtpmailgidonly",
        Kind.BOOL,
        "SMTP Restrictions",
        "only root, exim and mailman may connect to remote SMTP servers; other local programs "
        "are redirected to the local Exim (mail through Exim itself is not stopped)",
    ),
    Tweak(
        "nobodyspam",
        Kind.BOOL,
        "Prevent “nobody” from sending mail",
        "the “nobody” user (PHP and CGI scripts under mod_php or without suEXEC) may not send "
        "mail to remote addresses",
    ),
    Tweak(
        "popbeforesmtp",
        Kind.BOOL,
        "Pop-before-SMTP",
        "an IP address that passed an IMAP or POP3 login in the last hour may relay mail "
        "without SMTP authentication",
    ),
    Tweak(
        "maxemailsperhour",
        Kind.INT,
        "Max hourly emails per domain",
        "each domain may send at most this many messages to remote hosts an hour",
        unset_means="unlimited",
    ),
    Tweak(
        "email_send_limits_max_defer_fail_percentage",
        Kind.INT,
        "Max percentage of failed or deferred messages a domain may send per hour",
        "a domain whose outgoing mail in an hour is more than this share failed or deferred is "
        "temporarily blocked from sending",
        maximum=100,
        unset_means="unlimited",
        unit="%",
    ),
    Tweak(
        "email_send_limits_min_defer_fail_to_trigger_protection",
        Kind.INT,
        "Number of failed or deferred messages a domain may send before protections can be "
        "triggered",
        "the percentage limit above applies only once a domain has this many failed or "
        "deferred messages in the hour",
    ),
    Tweak(
        "email_send_limits_defer_cutoff",
        Kind.INT,
        "Percentage of email messages (above the hourly maximum) to queue and retry",
        "past the hourly limit, messages are queued up to this percentage of it; the rest "
        "are discarded",
        minimum=100,
        maximum=10_000,
        unit="%",
    ),
    Tweak(
        "email_outbound_spam_detect_enable",
        Kind.BOOL,
        "Monitor unique recipients per hour to detect potential spammers",
        "cPanel counts each email user's unique recipients an hour and notifies past the threshold",
    ),
    Tweak(
        "email_outbound_spam_detect_action",
        Kind.ENUM,
        "Outbound spam detection action",
        "what cPanel does to an email account it detects as a potential spammer: noaction "
        "(take no action), hold (hold its outgoing mail) or block (reject its outgoing mail)",
        options=("noaction", "hold", "block"),
    ),
    Tweak(
        "email_outbound_spam_detect_threshold",
        Kind.INT,
        "Unique recipients per hour to trigger potential spammer notification",
        "unique recipients an hour past which a sender counts as a potential spammer "
        "(mailman is exempt)",
    ),
)

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_WORD_RE = re.compile(r"^[a-z0-9]{1,12}$")


def _shown(text: str, limit: int = 60) -> str:
    clean = "".join(ch if ch.isprintable() else "�" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _known() -> str:
    return ", ".join(f"`{k}`" for k in TWEAKS)


def tweak(key: str) -> Tweak:
    """The known setting called ``key``; InvalidTarget listing the known keys otherwise."""
    found = TWEAKS.get(key)
    if found is None:
        raise InvalidTarget(
            f"“{_shown(key)}” is not a setting the bot may change. Known: {_known()}."
        )
    return found


def canonical(t: Tweak, word: str) -> str:
    """The value as people type it, checked against the setting's type and range."""
    text = word.strip().lower()
    if t.kind is Kind.BOOL:
        if text in ("on", "off"):
            return text
    elif t.kind is Kind.ENUM:
        if text in t.options:
            return text
    elif text == "unlimited" and t.unset_means:
        raise InvalidTarget(
            f"`{t.key}` cannot be set back to unlimited through the API: cPanel's "
            "set_tweaksetting accepts only a whole number for it (an empty value or 0 is "
            "refused). Choose Unlimited in WHM » Tweak Settings instead."
        )
    elif text.isascii() and text.isdigit() and len(text) <= 12:
        number = int(text)
        if t.minimum <= number <= t.maximum:
            return str(number)
    raise InvalidTarget(f"“{_shown(word)}” is not a value for `{t.key}`: use {t.allowed()}.")


def parse_assignment(text: str) -> Target:
    """``key=value`` as typed after ``/smtp set <tenant>``, as a validated setting target."""
    key, sep, value = text.partition("=")
    key = key.strip().lower()
    if not sep or not key:
        raise InvalidTarget(f"“{_shown(text)}” is not key=value. Known keys: {_known()}.")
    if not value.strip():
        raise InvalidTarget(f"`{_shown(key)}=` needs a value: use {tweak(key).allowed()}.")
    return setting_target(tweak(key).key, canonical(tweak(key), value))


def setting_target(key: str, value: str) -> Target:
    return Target(Scope.SETTING, f"{key}={value}")


def tweak_of(target: Target) -> Tweak:
    """The known setting a target names (``key`` or ``key=value``)."""
    key = target.name.partition("=")[0]
    if target.scope is not Scope.SETTING or not _KEY_RE.match(key):
        raise InvalidTarget(f"{target} is not a Tweak Setting.")
    return tweak(key)


def split_target(target: Target) -> tuple[Tweak, str]:
    """A stored setting target back as (setting, checked value); InvalidTarget if not one."""
    t = tweak_of(target)
    value = target.name.partition("=")[2]
    if not _WORD_RE.match(value):
        raise InvalidTarget(f"{target} is not a Tweak Setting with a value (key=value).")
    return t, canonical(t, value)


def whm_value(t: Tweak, value: str) -> str:
    """The ``value`` parameter of set_tweaksetting for a checked value."""
    if t.kind is Kind.BOOL:
        return "1" if value == "on" else "0"
    return value


def shown_value(t: Tweak, raw: object) -> str:
    """get_tweaksetting's value in the words people type (None: not set)."""
    if raw is None or raw == "":
        return t.unset_means or "not set"
    text = str(raw).strip().lower()
    if t.kind is Kind.BOOL:
        return {"1": "on", "0": "off", "true": "on", "false": "off"}.get(text, text)
    return text
