"""The fake WHM's Tweak Settings: ``get_tweaksetting`` / ``set_tweaksetting`` with cPanel's
validation (reasons as in SRC ``Whostmgr/API/1/Cpanel.pm`` and ``Whostmgr/TweakSettings.pm``,
checks as in ``Whostmgr/TweakSettings/Main.pm``; see docs/whm-incident.md).

Binary settings are answered as the integers 1/0 (as this fake always did for
``smtpmailgidonly``), the others as the strings the docs show; an unset value is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["FakeTweaks", "TweakFailure", "BROKEN_REASON"]

BROKEN_REASON = "Error encountered applying new setting.  Changes were not saved."
_BINARY = "Value must be either 0 or 1"


class TweakFailure(Exception):
    """A ``metadata.result`` 0 answer with this reason."""


def _natural(value: str) -> str:
    if value and re.fullmatch(r"\d+", value) and int(value) >= 1:
        return str(int(value))
    raise TweakFailure("Value must be a natural number")


def _percentage(value: str) -> str:
    if re.fullmatch(r"\d+", value) and 0 < int(value) <= 100:
        return str(int(value))
    raise TweakFailure("Value must be a positive percentage integer")


def _cutoff(value: str) -> str:
    if re.fullmatch(r"\d+", value) and 100 <= int(value) <= 10000:
        return str(int(value))
    raise TweakFailure("Value must be a number between 100 and 10000")


def _action(value: str) -> str:
    if value in ("noaction", "hold", "block"):
        return value
    raise TweakFailure(
        "The parameter “email_outbound_spam_detect_action” must be “noaction”, “hold”, or “block”."
    )


_CHECKS: dict[str, Callable[[str], str] | None] = {  # None: binary
    "smtpmailgidonly": None,
    "nobodyspam": None,
    "popbeforesmtp": None,
    "maxemailsperhour": _natural,
    "email_send_limits_max_defer_fail_percentage": _percentage,
    "email_send_limits_min_defer_fail_to_trigger_protection": _natural,
    "email_send_limits_defer_cutoff": _cutoff,
    "email_send_limits_count_mailman": None,
    "email_outbound_spam_detect_enable": None,
    "email_outbound_spam_detect_action": _action,
    "email_outbound_spam_detect_threshold": _natural,
}
# the shipped defaults (SRC Cpanel/Config/CpConfGuard/Default.pm); None: unset
DEFAULTS: dict[str, int | str | None] = {
    "smtpmailgidonly": 1,
    "nobodyspam": 1,
    "popbeforesmtp": 0,
    "maxemailsperhour": None,
    "email_send_limits_max_defer_fail_percentage": None,
    "email_send_limits_min_defer_fail_to_trigger_protection": "5",
    "email_send_limits_defer_cutoff": "125",
    "email_send_limits_count_mailman": 0,
    "email_outbound_spam_detect_enable": 1,
    "email_outbound_spam_detect_action": "noaction",
    "email_outbound_spam_detect_threshold": "500",
}


class FakeTweaks:
    """The server's Tweak Settings; the owning FakeWhm holds its lock around every call."""

    def __init__(self) -> None:
        self.values: dict[str, int | str | None] = dict(DEFAULTS)
        self.broken: set[str] = set()  # keys whose change fails as a failed post-action does
        self.sets: list[tuple[str, str]] = []  # every (key, value) set_tweaksetting applied

    def handles(self, function: str) -> bool:
        return function in ("get_tweaksetting", "set_tweaksetting")

    def dispatch(self, function: str, p: dict[str, str], *, apply: bool) -> Any:
        if p.get("module", "Main") not in ("Apache", "Basic", "Mail", "Main"):
            raise TweakFailure("Invalid tweaksetting module")
        key = p.get("key", "")
        if key not in _CHECKS:
            raise TweakFailure("Invalid tweaksetting key")
        if function == "get_tweaksetting":
            value = self.values.get(key)
            return {"tweaksetting": {"key": key} | ({} if value is None else {"value": value})}
        extra = set(p) - {"api.version", "key", "value", "module"}
        if extra:
            raise TweakFailure(f"Unexpected parameters: {', '.join(sorted(extra))}")
        raw = p.get("value", "")
        check = _CHECKS[key]
        if check is None:
            if raw not in ("0", "1"):
                raise TweakFailure(_BINARY)
            new: int | str = int(raw)
        else:
            new = check(raw)
        if key in self.broken:
            raise TweakFailure(BROKEN_REASON)
        if apply:
            self.values[key] = new
            self.sets.append((key, raw))
        return None
