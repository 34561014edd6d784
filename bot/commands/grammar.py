"""The ``/smtp`` command grammar: text in, a typed command out.

Pure: no config, no I/O. It accepts what Slack really sends (``<mailto:a@b|a@b>`` links,
smart quotes and dashes, upper-case verbs, extra spaces) and raises UsageError with a precise
message for anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.commands.usage_grammar import Usage, parse_usage
from bot.config.durations import parse_duration
from bot.errors import UsageError
from providers.errors import InvalidTarget
from providers.targets import CHANGE_VERBS, Scope, Target, Verb
from providers.whm_tweaks import TWEAKS, parse_assignment

__all__ = [
    "Cancel",
    "Change",
    "Command",
    "Help",
    "History",
    "ListRequests",
    "Queue",
    "Status",
    "Usage",
    "VERBS",
    "normalise",
    "parse",
]

MAX_TARGETS = 1000
MAX_DURATION = timedelta(days=90)
# what undoes each; a set is undone by setting the previous values back
TIMED_VERBS = {Verb.DISABLE: Verb.ENABLE, Verb.HOLD: Verb.RELEASE, Verb.SET: Verb.SET}
MAX_REASON = 500
_SETTINGS_ONLY = "Server settings are read with /smtp policy and changed with /smtp set."

VERBS = (
    "help",
    "disable",
    "enable",
    "hold",
    "release",
    "reset",
    "set",
    "status",
    "policy",
    "list",
    "history",
    "cancel",
    "queue",
    "purge",
    "usage",
)


@dataclass(frozen=True, slots=True)
class Help:
    verb: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    verb: Verb
    tenant: str
    targets: tuple[Target, ...]
    reason: str = ""
    duration: timedelta | None = None  # --for: revert automatically after this long

    @property
    def revert_verb(self) -> Verb | None:
        return TIMED_VERBS.get(self.verb) if self.duration else None


@dataclass(frozen=True, slots=True)
class Status:
    tenant: str
    targets: tuple[Target, ...]
    policy: bool = False  # /smtp policy: the server's outbound-mail Tweak Settings


@dataclass(frozen=True, slots=True)
class Queue:
    """``/smtp queue``: read Exim's queue (WHM), and one target's part of it."""

    tenant: str
    target: Target | None = None


@dataclass(frozen=True, slots=True)
class ListRequests:
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    tenant: str
    target: Target | None = None
    limit: int = 20


@dataclass(frozen=True, slots=True)
class Cancel:
    request_id: int


Command = Help | Change | Status | Queue | ListRequests | History | Cancel | Usage

_REPLACEMENTS = {
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u00a0": " ",
}
_DASH_OPTION_RE = re.compile(r"(^|\s)[\u2014\u2013\u2012\u2015\u2212]{1,2}(?=[A-Za-z])")
_MAILTO_RE = re.compile(r"<mailto:([^|<>\s]+)(?:\|[^<>]*)?>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_REASON_RE = re.compile(r"(?:^|\s)--reason(?:=|\s+|$)(.*)\Z", re.DOTALL)
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_NUMBER_RE = re.compile(r"^[0-9]{1,12}$")  # ASCII only: str.isdigit() accepts "³"


def is_number(text: str) -> bool:
    """A request ID or count as people type it: ASCII digits, at most 12."""
    return bool(_NUMBER_RE.match(text))


def normalise(text: str) -> str:
    """Undo what chat clients do to typed text, before parsing."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    text = _DASH_OPTION_RE.sub(lambda m: m.group(1) + "--", text)
    return _MAILTO_RE.sub(lambda m: m.group(1), text)


def _split_reason(text: str) -> tuple[str, str | None]:
    match = _REASON_RE.search(text)
    if not match:
        return text, None
    reason = " ".join(_CONTROL_RE.sub(" ", match.group(1)).split())
    if len(reason) >= 2 and reason[0] == reason[-1] and reason[0] in "\"'":
        reason = reason[1:-1].strip()
    if not reason:
        raise UsageError("--reason needs some text after it.")
    if len(reason) > MAX_REASON:
        raise UsageError(f"The reason is {len(reason)} characters; keep it under {MAX_REASON}.")
    return text[: match.start()], reason


def _tenant(token: str, verb: str) -> str:
    name = token.lower()
    if not _TENANT_RE.match(name):
        raise UsageError(
            f"“{_shown(token)}” is not a tenant name (lowercase letters, digits and '-').",
            verb=verb,
        )
    return name


def _shown(text: str, limit: int = 60) -> str:
    clean = "".join(ch if ch.isprintable() else "�" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _targets(tokens: list[str], verb: str) -> tuple[Target, ...]:
    if len(tokens) > MAX_TARGETS:
        raise UsageError(f"At most {MAX_TARGETS} targets per command.", verb=verb)
    seen: dict[Target, None] = {}
    for token in tokens:
        try:
            target = Target.parse(token)
        except InvalidTarget as exc:
            raise UsageError(exc.user_message, verb=verb) from None
        if target.scope is Scope.SETTING:
            raise UsageError(_SETTINGS_ONLY, verb=verb)
        seen.setdefault(target, None)
    return tuple(seen)


def _options(tokens: list[str], verb: str) -> tuple[list[str], dict[str, str]]:
    """Separate ``--name value`` options from positional tokens."""
    positional: list[str] = []
    options: dict[str, str] = {}
    it = iter(tokens)
    for token in it:
        if not token.startswith("--"):
            positional.append(token)
            continue
        name, _, value = token[2:].partition("=")
        if name not in ("limit", "for", "since"):
            raise UsageError(f"Unknown option “{_shown(token)}”.", verb=verb)
        if not value:
            value = next(it, "")
        if not value:
            raise UsageError(f"--{name} needs a value.", verb=verb)
        options[name] = value
    return positional, options


def parse(text: str) -> Command:
    """Parse the text after ``/smtp``. Raises UsageError."""
    text = normalise(text)
    head, reason = _split_reason(text)
    words = head.split()
    if not words:
        return Help()
    verb = words[0].lower()
    if verb not in VERBS:
        raise UsageError(f"“{_shown(words[0])}” is not a command.")
    positional, options = _options(words[1:], verb)
    if reason is not None and verb not in CHANGE_VERBS:
        raise UsageError(f"{verb} takes no --reason.", verb=verb)
    if "limit" in options and verb != "history":
        raise UsageError("--limit only goes with history.", verb=verb)
    if "since" in options and verb != "usage":
        raise UsageError("--since only goes with usage.", verb=verb)
    if "for" in options and verb == Verb.PURGE:
        raise UsageError("purge cannot be undone, so it takes no --for.", verb=verb)
    if "for" in options and verb not in TIMED_VERBS:
        raise UsageError("--for only goes with disable, hold or set.", verb=verb)

    if verb == "help":
        if len(positional) > 1:
            raise UsageError("help takes at most one command name.", verb="help")
        return Help(positional[0].lower() if positional else None)
    if verb == "list":
        if len(positional) > 1:
            raise UsageError("list takes at most a tenant name.", verb=verb)
        return ListRequests(_tenant(positional[0], verb) if positional else None)
    if verb == "cancel":
        if len(positional) != 1 or not is_number(positional[0].lstrip("#")):
            raise UsageError("cancel needs one request ID, like 42.", verb=verb)
        return Cancel(int(positional[0].lstrip("#")))
    if not positional:
        raise UsageError(f"{verb} needs a tenant name.", verb=verb)
    tenant = _tenant(positional[0], verb)
    if verb == "history":
        return _history(tenant, positional[1:], options.get("limit"))
    if verb == "usage":
        return parse_usage(tenant, positional[1:], options.get("since"))
    if verb == "policy":
        if len(positional) > 1:
            raise UsageError("policy takes only a tenant name.", verb=verb)
        return Status(tenant, tuple(Target(Scope.SETTING, key) for key in TWEAKS), policy=True)
    if verb == Verb.SET:
        targets = _settings(positional[1:])
    else:
        targets = _targets(positional[1:], verb)
    if verb == Verb.STATUS:
        return Status(tenant, targets or (Target.tenant(),))
    if verb == Verb.QUEUE:
        if len(targets) > 1:
            raise UsageError("queue takes a tenant and at most one target.", verb=verb)
        return Queue(tenant, targets[0] if targets else None)
    if verb == Verb.PURGE and not targets:
        raise UsageError("purge needs a target: a mailbox or account:NAME.", verb=verb)
    duration = None
    if "for" in options:
        try:
            duration = parse_duration(options["for"])
        except ValueError as exc:
            raise UsageError(str(exc), verb=verb) from None
        if duration > MAX_DURATION:
            raise UsageError("--for can be at most 90d.", verb=verb)
    return Change(Verb(verb), tenant, targets or (Target.tenant(),), reason or "", duration)


def _settings(tokens: list[str]) -> tuple[Target, ...]:
    """``key=value …`` of /smtp set: known keys, typed values, each key once."""
    if not tokens:
        raise UsageError("set needs at least one key=value.", verb="set")
    targets: dict[str, Target] = {}
    for token in tokens:
        try:
            target = parse_assignment(token)
        except InvalidTarget as exc:
            raise UsageError(exc.user_message, verb="set") from None
        key = target.name.partition("=")[0]
        if key in targets:
            raise UsageError(f"`{key}` is given twice; set each key once.", verb="set")
        targets[key] = target
    return tuple(targets.values())


def _history(tenant: str, rest: list[str], limit_text: str | None) -> History:
    if len(rest) > 1:
        raise UsageError("history takes a tenant and at most one target.", verb="history")
    limit = 20
    if limit_text is not None:
        if not is_number(limit_text) or not 1 <= int(limit_text) <= 200:
            raise UsageError("--limit must be a number from 1 to 200.", verb="history")
        limit = int(limit_text)
    target = _targets(rest, "history")[0] if rest else None
    return History(tenant, target, limit)
