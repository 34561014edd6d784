"""Exchange error records to typed errors, by exception type name: shared by both transports.

An error record is ``{type, reason, fqid, message}`` as the WinRM script's Get-ErrorInfo renders
a PowerShell error, or as the REST client builds it from an InvokeCommand error body (EXO v3
renders ``<ExNNNNNN>|<Namespace.TypeName>|<text>``). Matching is on type names, never on the
English prose, so the same cause gets the same error and wording on WinRM and on REST.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from providers.errors import (
    AmbiguousTarget,
    InvalidTarget,
    ProviderError,
    Rejected,
    TargetNotFound,
    Unavailable,
)

__all__ = ["classify_error", "one_line", "type_names"]

_MAX_MESSAGE = 300
_TYPE_IN_TEXT = re.compile(r"\b([A-Za-z_][A-Za-z0-9_.]*Exception)\b")
_FAILURE_CATEGORY = re.compile(r"FailureCategory=Cmdlet-([A-Za-z0-9_]+)")


def type_names(error: Mapping[str, object]) -> set[str]:
    """Every exception type name the error record carries (never its English prose)."""
    names: set[str] = set()
    for key in ("type", "reason"):
        value = str(error.get(key) or "")
        if value:
            names.add(value.rsplit(".", 1)[-1])
    fqid = str(error.get("fqid") or "")
    names.update(_FAILURE_CATEGORY.findall(fqid))
    # EXO v3 renders "<ExNNNNNN>|<Namespace.TypeName>|<text>": the middle field is a type name.
    message = str(error.get("message") or "")
    parts = message.split("|")
    if len(parts) >= 3:
        names.update(m.rsplit(".", 1)[-1] for m in _TYPE_IN_TEXT.findall(parts[1]))
    names.update(m.rsplit(".", 1)[-1] for m in _TYPE_IN_TEXT.findall(fqid))
    return names


def one_line(text: str) -> str:
    clean = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return clean if len(clean) <= _MAX_MESSAGE else clean[: _MAX_MESSAGE - 1] + "…"


def classify_error(error: Mapping[str, object], *, target: str) -> ProviderError:
    """Map an error record (WinRM script or REST reply) to a typed error, by type name."""
    names = type_names(error)
    detail = one_line(f"{error.get('type')}: {error.get('message')}")
    if "ManagementObjectNotFoundException" in names:
        return TargetNotFound(f"Exchange has no mailbox “{target}”.", detail=detail)
    if "ManagementObjectAmbiguousException" in names:
        return AmbiguousTarget(
            f"“{target}” matches more than one mailbox; use its GUID.", detail=detail
        )
    if "InvalidIdentity" in names:
        return InvalidTarget(f"“{target}” is not an identity the script accepts.", detail=detail)
    if names & {"UnsupportedVerb", "UnsupportedScope"}:
        return InvalidTarget(f"Exchange cannot do that for “{target}”.", detail=detail)
    if names & {"CommandNotFoundException", "CmdletInvocationException"}:
        return Unavailable("The Exchange cmdlets are not available on the host.", detail=detail)
    message = one_line(str(error.get("message") or "")) or "no reason given"
    return Rejected(f"Exchange refused the operation for “{target}”: {message}", detail=detail)
