"""The fake WHM's per-account mail settings: ``modifyacct`` with ``MAX_EMAIL_PER_HOUR``,
``accountsummary``'s ``max_email_per_hour`` and ``plan``, and the parameters of UAPI
``Email::suspend_login`` / ``unsuspend_login`` (whose state the mailbox's
``suspended_login`` holds). Shapes as in SRC ``Whostmgr/API/1/Accounts.pm`` (modifyacct),
``Whostmgr/Accounts/List.pm`` (the record fields) and cPanel's UAPI docs; see
docs/whm-incident.md.

modifyacct's parameters are case-sensitive and cPanel ignores one it does not know (DOCS
massmodifyacct: "the function will ignore that parameter"): so does this fake, and it records
each ignored name so tests can assert the bot sent none.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

__all__ = ["AccountsFailure", "FakeAccountLimits", "LOGIN_UAPI"]

# UAPI function -> (list_pops_with_disk field, value it sets)
LOGIN_UAPI = {"suspend_login": ("suspended_login", 1), "unsuspend_login": ("suspended_login", 0)}
_VALUE_RE = re.compile(r"^(?:unlimited|default|[0-9]+)$")  # SRC ArchiveManager/Validate.pm
_UAPI_PARAMS = {"api.version", "cpanel.user", "cpanel.module", "cpanel.function", "email"}


class AccountsFailure(Exception):
    """A ``metadata.result`` 0 answer with this reason."""


class FakeAccountLimits:
    """Per-account values; the owning FakeWhm holds its lock around every call."""

    def __init__(self) -> None:
        self.limits: dict[str, str] = {}  # user -> MAX_EMAIL_PER_HOUR in the cpuser file
        self.plans: dict[str, str] = {}  # user -> PLAN (absent: no package)
        self.modifications: list[dict[str, str]] = []  # every modifyacct applied
        self.ignored: list[str] = []  # modifyacct parameter names cPanel would ignore
        self.unexpected: list[str] = []  # login UAPI parameters no documented call takes

    def fields(self, user: str) -> dict[str, Any]:
        """What accountsummary/listaccts add for ``user`` (List.pm: ``//`` defaults)."""
        return {
            "max_email_per_hour": self.limits.get(user, "*unknown*"),
            "plan": self.plans.get(user) or "undefined",
        }

    def modify(
        self, p: dict[str, str], *, exists: bool, domain: str, apply: bool
    ) -> dict[str, Any]:
        user = p.get("user")
        if not user:
            raise AccountsFailure("Must at least specify a user to modify.")
        if not exists:
            raise AccountsFailure(
                f"API failure: (XID {secrets.token_hex(3)}) You do not have a user named “{user}”."
            )
        for name in sorted(set(p) - {"api.version", "user"}):
            if name != "MAX_EMAIL_PER_HOUR":
                self.ignored.append(name)
        value = p.get("MAX_EMAIL_PER_HOUR")
        if value is not None and not _VALUE_RE.match(value):
            # the real text is not public (Whostmgr::Accounts::Modify is not shipped as source)
            raise AccountsFailure(f"Invalid value for MAX_EMAIL_PER_HOUR: “{value}”.")
        if apply and value is not None:
            if value == "default":
                self.limits.pop(user, None)
            else:
                self.limits[user] = value
            self.modifications.append(dict(p))
        cpuser = {"USER": user, "DOMAIN": domain, "PLAN": self.plans.get(user, "")}
        if user in self.limits:
            cpuser["MAX_EMAIL_PER_HOUR"] = self.limits[user]
        return {"user": user, "domain": domain, "cpuser": cpuser, "setshell": "unmodified"}

    def note_login_params(self, p: dict[str, str]) -> None:
        self.unexpected.extend(sorted(set(p) - _UAPI_PARAMS))
