"""What goes over the wire to Exchange Online's InvokeCommand endpoint, and what comes back.

The request is JSON: ``{"CmdletInput": {"CmdletName": …, "Parameters": {…}}}``, parameters as
JSON values (strings, booleans, null), never PowerShell text. Cmdlet names and the properties
selected are constants of this module; only validated identities travel as values. Shapes
follow what the ExchangeOnlineManagement V3 module and CIPP-API (``New-ExoRequest.ps1``,
``New-ExoBulkRequest.ps1``) send; see docs/exchange-rest.md.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.errors import ProviderError

__all__ = [
    "ALLOWED",
    "Command",
    "Outcome",
    "anchor_mailbox",
    "batch_headers",
    "cmdlet_error",
    "invoke_headers",
    "retry_after_s",
]

# The cmdlets this bot runs and the parameters each may carry: nothing else is ever sent.
ALLOWED: dict[str, frozenset[str]] = {
    "Get-TransportConfig": frozenset(),
    "Set-TransportConfig": frozenset({"SmtpClientAuthenticationDisabled"}),
    "Get-CASMailbox": frozenset({"Identity", "ResultSize"}),  # no Identity: a paged listing
    "Set-CASMailbox": frozenset({"Identity", "SmtpClientAuthenticationDisabled"}),
}
# The system mailbox CIPP and ExoHelper anchor app-only requests to.
_SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
_MAX_RETRY_AFTER_S = 60.0
_ACCEPT = "application/json; odata.metadata=minimal"
_JSON = "application/json; charset=utf-8"

JsonScalar = str | bool | int | None


def anchor_mailbox(tenant_id: str) -> str:
    """``X-AnchorMailbox`` for app-only calls: the tenant's system mailbox (routing only)."""
    return f"APP:{_SYSTEM_MAILBOX}@{tenant_id}"


@dataclass(frozen=True, slots=True)
class Command:
    """One cmdlet call: its name, JSON parameters and the properties to ``$select``."""

    cmdlet: str
    parameters: Mapping[str, JsonScalar] = field(default_factory=dict)
    select: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        allowed = ALLOWED.get(self.cmdlet)
        if allowed is None:
            raise ValueError(f"cmdlet {self.cmdlet!r} is not one this bot runs")
        extra = set(self.parameters) - allowed
        if extra:
            raise ValueError(f"{self.cmdlet} takes no {sorted(extra)}")
        for name, value in self.parameters.items():
            if not isinstance(value, str | bool | int) and value is not None:
                raise ValueError(f"{name} must be a JSON scalar")
            if name == "Identity" and (not isinstance(value, str) or not value.strip()):
                # documented: Get-CASMailbox with an empty Identity returns EVERY mailbox
                raise ValueError("Identity must be a non-empty string")

    def body(self) -> dict[str, Any]:
        """The JSON body of InvokeCommand (also the ``body`` of a $batch sub-request)."""
        return {"CmdletInput": {"CmdletName": self.cmdlet, "Parameters": dict(self.parameters)}}

    def encoded(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":")).encode()

    def query(self) -> str:
        """``?$select=A,B`` (constant property names), or nothing."""
        return f"?$select={','.join(self.select)}" if self.select else ""

    @property
    def identity(self) -> str:
        value = self.parameters.get("Identity")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one cmdlet call gave: its records, or why it failed.

    ``record`` is a cmdlet error as Exchange reported it (``{type, reason, fqid, message}``,
    classified by ``providers.exchange_errors``); ``failure`` is anything else that stopped the
    call (auth, throttling past the retries, timeout, an unreadable reply). ``warnings`` are
    ``@adminapi.warnings`` (e.g. "no settings … have been modified").
    """

    value: tuple[Mapping[str, Any], ...] = ()
    record: Mapping[str, str] | None = None
    failure: ProviderError | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.record is None and self.failure is None


def cmdlet_error(body: object) -> dict[str, str] | None:
    """The Exchange error record in an error body, or None when it has no Exchange error.

    Reads ``error.details[].message`` (``ExNNNNNN|Type|text``), then
    ``error.innererror.internalException.message`` with ``innererror.type``, then
    ``error.message``: the order CIPP and ExoHelper read them in.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    if isinstance(details, dict):
        details = [details]
    texts = [
        str(d.get("message"))
        for d in (details if isinstance(details, list) else [])
        if isinstance(d, dict) and d.get("message")
    ]
    inner = error.get("innererror")
    inner = inner if isinstance(inner, dict) else {}
    internal = inner.get("internalException")
    internal_message = internal.get("message") if isinstance(internal, dict) else None
    message = texts[0] if texts else str(internal_message or error.get("message") or "")
    if not message:
        return None
    kind = str(inner.get("type") or "")
    parts = message.split("|")
    reason = parts[1].rsplit(".", 1)[-1] if len(parts) >= 3 else ""
    return {
        "type": kind,
        "reason": reason,
        "fqid": str(error.get("code") or ""),
        "message": message,
    }


def invoke_headers(command: Command, anchor: str) -> dict[str, str]:
    """Headers of one InvokeCommand (also of a $batch sub-request), bearer token aside."""
    return {
        "Accept": _ACCEPT,
        "Content-Type": _JSON,
        "Prefer": "odata.maxpagesize=1000",
        "X-AnchorMailbox": anchor,
        "X-CmdletName": command.cmdlet,
        "X-ResponseFormat": "json",
        "X-ClientApplication": "smtp-bot",
        "client-request-id": str(uuid.uuid4()),
    }


def batch_headers(anchor: str) -> dict[str, str]:
    """Headers of the $batch request itself: one failing cmdlet must not stop the others."""
    return {
        "Accept": "application/json",
        "Content-Type": _JSON,
        "Prefer": "odata.continue-on-error",
        "X-AnchorMailbox": anchor,
        "client-request-id": str(uuid.uuid4()),
    }


def retry_after_s(value: str | None, default: float) -> float:
    """``Retry-After`` in seconds (delta-seconds form; an HTTP date or junk gives ``default``),
    capped so one answer cannot park a worker for long."""
    if value is None:
        return default
    try:
        seconds = float(value.strip())
    except ValueError:
        return default
    if not math.isfinite(seconds) or seconds < 0:
        return default
    return min(seconds, _MAX_RETRY_AFTER_S)
