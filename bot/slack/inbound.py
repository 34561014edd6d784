"""Checks on a request to ``/slack/events`` before Bolt sees it.

Bolt parses the body before it verifies the signature (a body such as ``{`` or
``payload=[1]`` is a traceback and HTTP 500) and logs an unsigned body in full. So the
timestamp and the signature are checked here first, then the body's shape; Bolt only ever
gets a signed, well-formed request. A refusal is one log line that gives the body's size,
never its text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

__all__ = ["Refusal", "check_request"]

log = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: 400 (malformed) or 401 (not signed by Slack)."""

    status: int
    reason: str


def check_request(
    headers: Mapping[str, str], body: bytes, verifier: SignatureVerifier
) -> Refusal | None:
    """None if the request is signed and its body is what Slack sends; else the refusal,
    logged as one line."""
    refusal = _check(headers, body, verifier)
    if refusal is not None:
        log.warning(
            "refused a request to /slack/events: %s (HTTP %d, body of %d bytes)",
            refusal.reason,
            refusal.status,
            len(body),
        )
    return refusal


def _check(headers: Mapping[str, str], body: bytes, verifier: SignatureVerifier) -> Refusal | None:
    timestamp = headers.get("x-slack-request-timestamp", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return Refusal(400, "the X-Slack-Request-Timestamp header is missing or not a number")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "the body is not UTF-8")
    signature = headers.get("x-slack-signature", "")
    if _is_ssl_check(headers, text):
        return None  # Slack's certificate check is not signed; Bolt answers it with 200
    signed = signature.isascii() and verifier.is_valid(
        body=text, timestamp=timestamp, signature=signature
    )
    if not signed:
        return Refusal(401, "the signature is missing, wrong or too old")
    return _check_shape(headers.get("content-type", ""), text)


def _check_shape(content_type: str, text: str) -> Refusal | None:
    """Slack sends a form (a slash command, or ``payload=`` with a JSON object) or, for
    events, a JSON object."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == _JSON:
        if not _is_json_object(text):
            return Refusal(400, "the JSON body is not a JSON object")
        return None
    if kind != _FORM:
        return Refusal(400, f"unexpected content type {kind[:60]!r}")
    try:
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        return Refusal(400, "the form body is malformed")
    if "payload" in fields:
        payloads = fields["payload"]
        if len(payloads) != 1 or not _is_json_object(payloads[0]):
            return Refusal(400, "the form's payload is not a JSON object")
    elif "command" not in fields and "ssl_check" not in fields:
        return Refusal(400, "the form is neither a command nor a payload")
    return None


def _is_ssl_check(headers: Mapping[str, str], text: str) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != _FORM or "ssl_check=" not in text:
        return False
    try:
        return "ssl_check" in parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return False


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
