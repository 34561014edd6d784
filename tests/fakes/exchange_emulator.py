"""An Exchange Online tenant, and what providers/scripts/exchange.ps1 prints when run against it.

The fake WinRM host cannot run PowerShell. It checks that the script it received is byte-equal
to the shipped one, then calls ``FakeExchangeOrg.run_script`` with the DATA payload: this
module interprets the payload the way the script and the EXO cmdlets would (including the
documented Get-CASMailbox quirk that an empty identity returns every mailbox), so tests see the
effects of what was sent, not of what the Python side meant.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

__all__ = ["ExchangeCalls", "FakeExchangeOrg", "FakeMailbox", "PSError"]

_NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
_AMBIGUOUS = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException"


class PSError(Exception):
    """A PowerShell error record as the script's Get-ErrorInfo would render it."""

    def __init__(self, type_: str, message: str, *, reason: str = "", fqid: str = "") -> None:
        super().__init__(message)
        self.record = {
            "type": type_,
            "reason": reason or type_.rsplit(".", 1)[-1],
            "fqid": fqid,
            "message": message,
        }


def _exo_error(full_type: str, code: str, cmdlet: str, text: str) -> PSError:
    """EXO v3 (REST) shape: generic exception, type name in the reason and in the message."""
    short = full_type.rsplit(".", 1)[-1]
    return PSError(
        "System.Exception",
        f"{code}|{full_type}|{text}",
        reason=short,
        fqid=f"[Server=AM0PR01MB0001,RequestId={uuid.uuid4()}] "
        f"[FailureCategory=Cmdlet-{short}] {code},Microsoft.Exchange.Management.{cmdlet}",
    )


@dataclass
class FakeMailbox:
    """A mailbox; ``smtp_auth_disabled`` None means it follows the organisation."""

    guid: str
    upn: str
    primary_smtp: str
    other_identities: tuple[str, ...] = ()
    smtp_auth_disabled: bool | None = None

    def names(self) -> set[str]:
        return {n.lower() for n in (self.guid, self.upn, self.primary_smtp, *self.other_identities)}


@dataclass
class ExchangeCalls:
    """Cmdlet call counters, so tests can assert ONE connect per batch."""

    connects: int = 0
    disconnects: int = 0
    get_cas: int = 0
    set_cas: int = 0
    get_transport: int = 0
    set_transport: int = 0
    set_identities: list[str] = field(default_factory=list)


class FakeExchangeOrg:
    """In-memory tenant; ``sticky`` GUIDs accept Set-CASMailbox but never change."""

    def __init__(
        self,
        *,
        organization: str = "contoso.onmicrosoft.com",
        app_id: str = "11111111-2222-3333-4444-555555555555",
        thumbprint: str = "0123456789ABCDEF0123456789ABCDEF01234567",
        org_disabled: bool = False,
    ) -> None:
        self.organization = organization
        self.app_id = app_id
        self.thumbprint = thumbprint
        self.org_disabled = org_disabled
        self.mailboxes: list[FakeMailbox] = []
        self.sticky: set[str] = set()
        self.module_missing = False
        # the Windows host's certificate store, and the app's side in Entra ID
        self.host_thumbprints: set[str] = {thumbprint}
        self.consented = True
        self.calls = ExchangeCalls()
        # seconds each Get-/Set-CASMailbox and Get-/Set-TransportConfig costs inside a script
        # (a real cmdlet is a round trip to Exchange Online); slept after the lock is released,
        # so scripts of parallel sessions overlap as they would on a real host
        self.cmdlet_delay_s = 0.0
        self.lock = threading.Lock()
        self._index: dict[str, list[FakeMailbox]] = {}
        self._index_size = -1

    def add_mailbox(
        self,
        upn: str,
        *,
        primary_smtp: str | None = None,
        other_identities: tuple[str, ...] = (),
        disabled: bool | None = None,
        guid: str | None = None,
    ) -> FakeMailbox:
        box = FakeMailbox(
            guid=guid or str(uuid.uuid4()),
            upn=upn,
            primary_smtp=primary_smtp or upn,
            other_identities=other_identities,
            smtp_auth_disabled=disabled,
        )
        self.mailboxes.append(box)
        return box

    def mailbox(self, identity: str) -> FakeMailbox:
        (box,) = self._matches(identity)
        return box

    def _matches(self, identity: str) -> list[FakeMailbox]:
        """Mailboxes answering to ``identity`` (UPN, SMTP, GUID or other), case-insensitive."""
        if self._index_size != len(self.mailboxes):
            self._index = {}
            for box in self.mailboxes:
                for name in box.names():
                    self._index.setdefault(name, []).append(box)
            self._index_size = len(self.mailboxes)
        return list(self._index.get(identity.lower(), []))

    # --- the cmdlets -------------------------------------------------------------------

    def _connect(self, params: dict[str, str]) -> None:
        if self.module_missing:
            raise PSError(
                "System.Management.Automation.CommandNotFoundException",
                "The term 'Connect-ExchangeOnline' is not recognized as the name of a cmdlet.",
            )
        # in the order the module and Entra ID meet them: the host's store, then the tenant,
        # the app, its certificate, its consent
        thumbprint = params.get("CertificateThumbprint", "")
        if thumbprint not in self.host_thumbprints:
            raise PSError(
                "System.Management.Automation.RuntimeException",
                f"No certificate with thumbprint {thumbprint} was found in the certificate "
                "store (CurrentUser\\My or LocalMachine\\My).",
            )
        if params.get("Organization") != self.organization:
            raise PSError(
                "Microsoft.Identity.Client.MsalServiceException",
                f"AADSTS90002: Tenant '{params.get('Organization')}' not found. Check to make "
                "sure you have the correct tenant ID and are signing into the correct cloud.",
            )
        if params.get("AppId") != self.app_id:
            raise PSError(
                "Microsoft.Identity.Client.MsalServiceException",
                f"AADSTS700016: Application with identifier '{params.get('AppId')}' was not "
                f"found in the directory '{self.organization}'.",
            )
        if thumbprint != self.thumbprint:
            raise PSError(
                "Microsoft.Identity.Client.MsalServiceException",
                "AADSTS700027: Client assertion contains an invalid signature.",
            )
        if not self.consented:
            raise PSError(
                "Microsoft.Identity.Client.MsalUiRequiredException",
                "AADSTS65001: The user or administrator has not consented to use the "
                "application with ID '" + self.app_id + "'.",
            )
        self.calls.connects += 1

    def _get_cas(self, identity: str) -> list[FakeMailbox]:
        self.calls.get_cas += 1
        if not identity:  # documented: a $null/empty Identity returns ALL mailboxes
            return list(self.mailboxes)
        found = self._matches(identity)
        if not found:
            raise _exo_error(
                _NOT_FOUND,
                "Ex6F9304",
                "RecipientTasks.GetCASMailbox",
                f"The operation couldn't be performed because object '{identity}' couldn't be "
                "found on 'AM0PR01A001DC01.EURPR01A001.prod.outlook.com'.",
            )
        if len(found) > 1:
            raise _exo_error(
                _AMBIGUOUS,
                "Ex9E65A2",
                "RecipientTasks.GetCASMailbox",
                f"The operation couldn't be performed because object: '{identity}' matches "
                "multiple entries.",
            )
        return found

    def _set_cas(self, identity: str, value: bool | None) -> None:
        (box,) = self._get_cas(identity)
        self.calls.get_cas -= 1  # the lookup above is internal to Set-CASMailbox
        self.calls.set_cas += 1
        self.calls.set_identities.append(identity)
        if box.guid not in self.sticky:
            box.smtp_auth_disabled = value

    # --- the script -------------------------------------------------------------------

    def run_script(self, payload_b64: str) -> tuple[bytes, int]:
        """Return (stdout, exit code) exactly as exchange.ps1 would for this payload."""
        with self.lock:
            before = self._cmdlets()
            out = self._run_script(payload_b64)
            ran = self._cmdlets() - before
        if self.cmdlet_delay_s:
            time.sleep(ran * self.cmdlet_delay_s)
        return out

    def _cmdlets(self) -> int:
        c = self.calls
        return c.get_cas + c.set_cas + c.get_transport + c.set_transport

    def _run_script(self, payload_b64: str) -> tuple[bytes, int]:
        """The script itself; the caller holds ``self.lock``."""
        doc: dict[str, object] = {
            "v": 1, "request_id": None, "note": None, "dry_run": False, "org": None,
            "items": [], "fatal": None,
        }  # fmt: skip
        run = _RunState()
        rc = 0
        try:
            try:
                text = base64.b64decode(payload_b64, validate=True).decode("utf-8")
                self._run(json.loads(text), doc, run)
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise PSError("System.ArgumentException", str(exc)) from exc
            except (KeyError, TypeError) as exc:  # Set-StrictMode: missing property
                raise PSError(
                    "System.Management.Automation.PropertyNotFoundException", str(exc)
                ) from exc
        except PSError as exc:
            doc["fatal"] = {**exc.record, "phase": run.phase}
            rc = 2
        if run.connected:
            self.calls.disconnects += 1
        out = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        return (out + "\r\n").encode("utf-8"), rc

    def _run(self, req: dict, doc: dict[str, object], run: _RunState) -> None:
        """Mirror of the script's main try-block; PSError here is fatal for the run."""
        if req["v"] != 1:
            raise PSError("System.ArgumentException", "UnsupportedPayloadVersion")
        doc["request_id"], doc["note"] = str(req["request_id"]), str(req["note"])
        doc["dry_run"] = dry = bool(req["dry_run"])
        op, verb = str(req["op"]), str(req["verb"])
        if op not in ("check", "status", "apply"):
            raise PSError("System.ArgumentException", "UnsupportedOp")
        wants = {"disable": True, "enable": False, "reset": None, "status": None}
        if verb not in wants or (op == "apply") == (verb == "status"):
            raise PSError("System.ArgumentException", "UnsupportedVerb")
        want = wants[verb]
        keys = ("Organization", "AppId", "CertificateThumbprint")
        connect = {k: str(req["connect"][k]) for k in keys}
        run.phase = "connect"
        self._connect(connect)
        run.connected = True
        run.phase = "org"
        self.calls.get_transport += 1
        org = self.org_disabled
        doc["org"] = org_doc = {"before": org, "after": org}
        run.phase = "items"
        items: list[dict[str, object]] = []
        doc["items"] = items
        for index, item in enumerate(req["items"]):
            r: dict[str, object] = {
                "i": index, "scope": str(item["scope"]), "identity": str(item["identity"]),
                "guid": None, "primary_smtp": None, "before": None, "after": None, "org": org,
                "changed": False, "would_set": False, "error": None,
            }  # fmt: skip
            try:
                org = self._item(r, op=op, verb=verb, want=want, org=org, dry=dry)
            except PSError as exc:
                r["error"] = exc.record
            org_doc["after"] = org
            items.append(r)

    def _item(
        self, r: dict[str, object], *, op: str, verb: str, want: bool | None, org: bool, dry: bool
    ) -> bool:
        """One item, as the script's foreach body; returns the (possibly new) org value."""
        if r["scope"] == "tenant":
            r["before"] = r["after"] = org
            if op == "apply" and verb != "reset" and org != want:
                if dry:
                    r["would_set"] = True
                else:
                    self.calls.set_transport += 1
                    self.org_disabled = bool(want)
                    self.calls.get_transport += 1
                    org = self.org_disabled
                    r["after"], r["changed"] = org, True
            if op == "apply" and verb == "reset":
                r["error"] = PSError("UnsupportedVerb", "reset").record
            r["org"] = org
            return org
        if r["scope"] != "mailbox":
            r["error"] = PSError("UnsupportedScope", str(r["scope"])).record
            return org
        identity = str(r["identity"])
        if (
            not identity.strip()
            or len(identity) > 320
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in identity)
        ):
            r["error"] = PSError("InvalidIdentity", "identity did not match exactly one").record
            return org
        (box,) = self._get_cas(identity)
        r["guid"], r["primary_smtp"] = box.guid, box.primary_smtp
        r["before"] = r["after"] = box.smtp_auth_disabled
        if op == "apply" and r["before"] is not want:
            if dry:
                r["would_set"] = True
            else:
                self._set_cas(box.guid, want)
                (after,) = self._get_cas(box.guid)
                r["after"], r["changed"] = after.smtp_auth_disabled, True
        r["org"] = org
        return org


@dataclass
class _RunState:
    phase: str = "payload"
    connected: bool = False
