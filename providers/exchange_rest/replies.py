"""Exchange Online's REST replies as Outcomes: records, a cmdlet's error, or a typed failure.

401 and 403 are the app's standing (token refused; no Exchange role), worded by cause; a reply
with an Exchange error body is the cmdlet's own error, classified later by type name; anything
else is Unavailable (5xx, throttled past the retries) or ProtocolError. Every text that leaves
here went through ``scrub`` (the client's tokens removed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.errors import AuthError, ProtocolError, Unavailable
from providers.exchange_rest.wire import Command, Outcome, cmdlet_error

__all__ = ["RETRY_STATUS", "outcome_of"]

RETRY_STATUS = frozenset({429, 503})
_NO_ROLE = (
    "Exchange Online refused the app (HTTP 403): the app has no Exchange role; assign it "
    "Exchange Administrator (or a role group with the Mail Recipients and Transport roles)"
)
_BAD_TOKEN = (
    "Exchange Online refused the app's token (HTTP 401): check that the app has the "
    "Exchange.ManageAsApp application permission with admin consent"
)


def outcome_of(
    command: Command | None, status: int, body: Any, scrub: Callable[[str], str]
) -> Outcome:
    """One reply (InvokeCommand, a $batch sub-response, or the $batch itself) as an Outcome."""
    what = command.cmdlet if command else "$batch"
    if status == 401:
        return Outcome(failure=AuthError(_BAD_TOKEN, detail=_detail(what, status, body, scrub)))
    if status == 403:
        return Outcome(failure=AuthError(_NO_ROLE, detail=_detail(what, status, body, scrub)))
    if 200 <= status < 300:
        if command is None or body is None:  # the $batch envelope, or a Set with no content
            return Outcome()
        if not isinstance(body, dict):
            return Outcome(failure=ProtocolError(f"Exchange's reply to {what} is not JSON."))
        value = body.get("value")
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            return Outcome(failure=ProtocolError(f"Exchange's reply to {what} has no records."))
        warnings = body.get("@adminapi.warnings") or []
        return Outcome(value=tuple(value), warnings=tuple(str(w) for w in warnings))
    record = cmdlet_error(body)
    if record is not None and status <= 500:  # a cmdlet error, whatever the status
        return Outcome(record={k: scrub(v) for k, v in record.items()})
    if status in RETRY_STATUS or status >= 500:
        return Outcome(
            failure=Unavailable(
                f"Exchange Online answered HTTP {status} to {what}"
                + (" (throttled; retries used up)" if status == 429 else ""),
                detail=_detail(what, status, body, scrub),
            )
        )
    return Outcome(
        failure=ProtocolError(
            f"Exchange Online answered HTTP {status} to {what}.",
            detail=_detail(what, status, body, scrub),
        )
    )


def _detail(what: str, status: int, body: Any, scrub: Callable[[str], str]) -> str:
    record = cmdlet_error(body)
    text = record["message"] if record else ""
    return scrub(f"{what}: HTTP {status}" + (f": {text[:300]}" if text else ""))
