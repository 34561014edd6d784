"""The ``/smtp`` command grammar: text in, a typed command out.

Pure: no config, no I/O. It accepts what Slack really sends (``<mailto:a@b|a@b>`` links,
smart quotes and dashes, upper-case verbs, extra spaces) and raises UsageError with a precise
message for anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.commands.grammar_limits import limit_targets, with_logins
from bot.commands.grammar_top import Top, parse_top
from bot.commands.typed_text import is_number, normalise, shown, split_reason
from bot.commands.usage_grammar import Usage, parse_usage
from bot.config.durations import parse_duration
from bot.errors import UsageError
from providers.errors import InvalidTarget
from providers.targets import CHANGE_VERBS, Scope, Target, Verb
from providers.whm_tweaks import TWEAKS, parse_assignment

ALL_ACCOUNTS_OPTION = "all-accounts"

__all__ = [
    "Cancel",
    "Change",
    "Command",
    "Help",
    "History",
    "ListRequests",
    "Queue",
    "Status",
    "Top",
    "Usage",
    "VERBS",
    "normalise",
    "parse",
]

MAX_TARGETS = 1000
MAX_DURATION = timedelta(days=90)
# what undoes each; a set is undone by setting the previous values back
TIMED_VERBS = {
    Verb.DISABLE: Verb.ENABLE,
    Verb.HOLD: Verb.RELEASE,
    Verb.SET: Verb.SET,
    Verb.LIMIT: Verb.LIMIT,  # a limit is undone by setting each previous value back
}
_SETTINGS_ONLY = "Server settings are read with /smtp policy and changed with /smtp set."
_TYPED_SCOPES = {  # targets the bot builds itself: typed, they get the command that makes them
    Scope.SETTING: _SETTINGS_ONLY,
    Scope.LOGIN: "A mailbox's login is suspended with disable … --login (enable … --login).",
    Scope.LIMIT: "Hourly limits are changed with /smtp limit <tenant> <account:NAME…> <N>.",
}
LOGIN_VERBS = (Verb.DISABLE, Verb.ENABLE)

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
    "limit",
    "top",
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


Command = Help | Change | Status | Queue | Top | ListRequests | History | Cancel | Usage

_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _tenant(token: str, verb: str) -> str:
    name = token.lower()
    if not _TENANT_RE.match(name):
        raise UsageError(
            f"“{shown(token)}” is not a tenant name (lowercase letters, digits and '-').",
            verb=verb,
        )
    return name


def _targets(tokens: list[str], verb: str) -> tuple[Target, ...]:
    if len(tokens) > MAX_TARGETS:
        raise UsageError(f"At most {MAX_TARGETS} targets per command.", verb=verb)
    seen: dict[Target, None] = {}
    for token in tokens:
        try:
            target = Target.parse(token)
        except InvalidTarget as exc:
            raise UsageError(exc.user_message, verb=verb) from None
        if target.scope in _TYPED_SCOPES:
            raise UsageError(_TYPED_SCOPES[target.scope], verb=verb)
        if target.scope is Scope.ALL_ACCOUNTS:
            raise UsageError("For every account on the server, use --all-accounts.", verb=verb)
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
        if name == "login":  # a flag: it takes no value
            if value:
                raise UsageError("--login takes no value.", verb=verb)
            options[name] = "yes"
            continue
        if name == ALL_ACCOUNTS_OPTION and not value:  # a flag: it takes no value
            options[name] = "yes"
            continue
        if name not in ("limit", "for", "since"):
            raise UsageError(f"Unknown option “{shown(token)}”.", verb=verb)
        if not value:
            value = next(it, "")
        if not value:
            raise UsageError(f"--{name} needs a value.", verb=verb)
        options[name] = value
    return positional, options


def parse(text: str) -> Command:
    """Parse the text after ``/smtp``. Raises UsageError."""
    text = normalise(text)
    head, reason = split_reason(text)
    words = head.split()
    if not words:
        return Help()
    verb = words[0].lower()
    if verb not in VERBS:
        raise UsageError(f"“{shown(words[0])}” is not a command.")
    positional, options = _options(words[1:], verb)
    if reason is not None and verb not in CHANGE_VERBS:
        raise UsageError(f"{verb} takes no --reason.", verb=verb)
    if "limit" in options and verb not in ("history", "top"):
        raise UsageError("--limit only goes with history or top.", verb=verb)
    if "since" in options and verb not in ("top", "usage"):
        raise UsageError("--since only goes with top or usage.", verb=verb)
    if "for" in options and verb == Verb.PURGE:
        raise UsageError("purge cannot be undone, so it takes no --for.", verb=verb)
    if "for" in options and verb not in TIMED_VERBS:
        raise UsageError("--for only goes with disable, hold or set, and with limit.", verb=verb)
    if "login" in options and verb not in LOGIN_VERBS:
        raise UsageError("--login only goes with disable or enable of mailboxes.", verb=verb)

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
    if verb == "top":
        return parse_top(tenant, positional[1:], options)
    if verb == "usage":
        return parse_usage(tenant, positional[1:], options.get("since"))
    if verb == "policy":
        if len(positional) > 1:
            raise UsageError("policy takes only a tenant name.", verb=verb)
        return Status(tenant, tuple(Target(Scope.SETTING, key) for key in TWEAKS), policy=True)
    if ALL_ACCOUNTS_OPTION in options:
        return all_accounts_change(verb, tenant, positional[1:], options, reason or "")
    if verb == Verb.SET:
        targets = _settings(positional[1:])
    elif verb == Verb.LIMIT:
        if len(positional) < 3:
            raise UsageError("limit needs account:NAME … then a number or unlimited.", verb=verb)
        targets = limit_targets(_targets(positional[1:-1], verb), positional[-1])
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
    if "login" in options:
        targets = with_logins(targets, verb, MAX_TARGETS)
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


def all_accounts_change(
    verb: str, tenant: str, targets: list[str], options: dict[str, str], reason: str
) -> Change:
    """``disable|enable <tenant> --all-accounts``: every account on the server, no target."""
    if verb not in (Verb.DISABLE, Verb.ENABLE):
        raise UsageError("--all-accounts only goes with disable or enable.", verb=verb)
    if targets:
        raise UsageError(
            "--all-accounts takes no targets: it covers every account on the server. "
            "Name accounts or mailboxes without it.",
            verb=verb,
        )
    if "for" in options:
        raise UsageError(
            "--all-accounts takes no --for: lift it with "
            f"`/smtp enable {tenant} --all-accounts`, which leaves suspended the accounts "
            "that were suspended before.",
            verb=verb,
        )
    return Change(Verb(verb), tenant, (Target.all_accounts(),), reason)
