"""The fixed Exchange PowerShell script, its data payload, and the one JSON document it prints.

Nothing typed by a user ever becomes PowerShell text: the command line and the script are
constants loaded from ``providers/scripts/*.ps1``; inputs travel as base64(UTF-8 JSON) on stdin
and are only bound as parameter values inside the script. Stdin rather than the command line
carries the script, because cmd.exe caps a command line at ~8,191 characters.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from providers.errors import AuthError, InvalidTarget, ProtocolError, ProviderError, Unavailable
from providers.exchange_errors import classify_error, one_line, type_names
from providers.signin_causes import signin_cause

__all__ = [
    "OPS",
    "Invocation",
    "PayloadItem",
    "ScriptOutput",
    "bootstrap_text",
    "build_invocation",
    "build_payload",
    "classify_error",
    "classify_fatal",
    "command_line",
    "parse_output",
    "script_bytes",
]

OPS = frozenset({"check", "status", "apply"})
PAYLOAD_VERSION = 1
_COMMAND_PREFIX = (
    "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
)


@cache
def script_bytes() -> bytes:
    """The shipped exchange.ps1, byte for byte (the fake host checks the same bytes)."""
    return resources.files("providers").joinpath("scripts/exchange.ps1").read_bytes()


@cache
def bootstrap_text() -> str:
    """The tiny fixed bootstrap that reads script and payload from stdin."""
    raw = resources.files("providers").joinpath("scripts/bootstrap.ps1").read_bytes()
    return raw.decode("utf-8")


@cache
def command_line() -> str:
    """The one command line ever sent: constant, well under cmd.exe's limit."""
    encoded = base64.b64encode(bootstrap_text().encode("utf-16-le")).decode("ascii")
    return _COMMAND_PREFIX + encoded


@dataclass(frozen=True, slots=True)
class PayloadItem:
    """One target as data: ``scope`` is "tenant" or "mailbox"; ``identity`` is empty for tenant."""

    scope: str
    identity: str = ""


@dataclass(frozen=True, slots=True)
class Invocation:
    """What goes over WinRM: the fixed command line and the ASCII stdin bytes."""

    command_line: str
    stdin: bytes


def build_payload(
    *,
    op: str,
    verb: str,
    items: Sequence[PayloadItem],
    connect: Mapping[str, str],
    dry_run: bool = False,
    request_id: str = "",
    note: str = "",
) -> bytes:
    """Serialise a request as UTF-8 JSON; refuses shapes the script would refuse anyway.

    An empty mailbox identity is refused here AND in the script: Get-CASMailbox with an empty
    identity returns every mailbox. ``request_id`` is echoed back so a reply can be matched to
    its request; ``note`` (e.g. an approval reason) is echoed for the audit trail, nothing more.
    """
    if op not in OPS:
        raise ValueError(f"unsupported op {op!r}")
    for item in items:
        if item.scope not in ("tenant", "mailbox"):
            raise InvalidTarget(f"Exchange has no {item.scope!r} scope.")
        if item.scope == "mailbox" and not item.identity.strip():
            raise InvalidTarget("The mailbox identity is empty.")
    body = {
        "v": PAYLOAD_VERSION,
        "op": op,
        "verb": verb,
        "dry_run": dry_run,
        "request_id": request_id,
        "note": note,
        "connect": {k: connect[k] for k in ("Organization", "AppId", "CertificateThumbprint")},
        "items": [{"scope": i.scope, "identity": i.identity} for i in items],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_invocation(payload: bytes) -> Invocation:
    """Pair the constant command line with stdin = b64(script) LF b64(payload) LF."""
    stdin = base64.b64encode(script_bytes()) + b"\n" + base64.b64encode(payload) + b"\n"
    return Invocation(command_line=command_line(), stdin=stdin)


@dataclass(frozen=True, slots=True)
class ScriptOutput:
    """The parsed document: per-item dicts in request order, or a fatal error."""

    doc: Mapping[str, object]
    items: list[Mapping[str, object]]
    fatal: Mapping[str, object] | None


def parse_output(
    stdout: bytes, exit_code: int, *, expected_items: int, request_id: str
) -> ScriptOutput:
    """Validate the one JSON document; anything else is a ProtocolError (stderr is ignored).

    The script prints the document last, on one line; a module that writes to the host
    (Write-Host goes to stdout under powershell.exe) may have printed lines before it.
    """
    text = stdout.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    last = text.rsplit("\n", 1)[-1].strip()
    try:
        doc = json.loads(last if last.startswith("{") else text)
    except ValueError:
        raise ProtocolError(
            "The Exchange management host sent an unreadable reply.",
            detail=f"exit code {exit_code}; stdout starts {text[:120]!r}",
        ) from None
    if not isinstance(doc, dict) or doc.get("v") != PAYLOAD_VERSION:
        raise ProtocolError("The Exchange management host sent an unexpected document.")
    if doc.get("request_id") != request_id:
        raise ProtocolError(
            "The Exchange reply belongs to another request.",
            detail=f"expected request_id {request_id}",
        )
    fatal = doc.get("fatal")
    if fatal is not None:
        if not isinstance(fatal, dict) or exit_code != 2:
            raise ProtocolError("Malformed fatal error from the Exchange script.")
        return ScriptOutput(doc=doc, items=[], fatal=fatal)
    items = doc.get("items")
    if exit_code != 0 or not isinstance(items, list) or len(items) != expected_items:
        raise ProtocolError(
            "The Exchange script's reply does not match the request.",
            detail=f"exit code {exit_code}; expected {expected_items} items",
        )
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("i") != index:
            raise ProtocolError("The Exchange script returned items out of order.")
    return ScriptOutput(doc=doc, items=items, fatal=None)


def classify_fatal(fatal: Mapping[str, object]) -> ProviderError:
    """Map a whole-run failure (payload, connect, org read) to one typed error."""
    phase = str(fatal.get("phase") or "")
    names = type_names(fatal)
    detail = one_line(f"phase {phase}: {fatal.get('type')}: {fatal.get('message')}")
    if phase == "payload":
        return ProtocolError("The Exchange script could not read its request.", detail=detail)
    if "CommandNotFoundException" in names:
        return Unavailable(
            "The ExchangeOnlineManagement module is not available on the host.", detail=detail
        )
    if phase == "connect":
        cause = signin_cause(f"{fatal.get('type')}: {fatal.get('message')}")
        message = "Exchange Online refused the app-only sign-in"
        text = f"{message}: {cause}." if cause else f"{message}."
        return AuthError(text, detail=detail, before_change=True)  # nothing ran
    return Unavailable("Exchange Online failed while reading the organisation.", detail=detail)
