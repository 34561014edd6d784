"""Exchange Online back end: SMTP AUTH per organisation and per mailbox, over WinRM.

A batch is ONE WinRM command running ONE fixed PowerShell script with ONE
Connect-ExchangeOnline, the targets travelling as data; a large batch of mailboxes is split over
up to ``max_concurrency`` such commands running at once (providers/exchange_sessions.py: every
mailbox costs its own cmdlets). See providers/exchange_script.py for why no user text can
become PowerShell, and exchange_results.py for read-back checks.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass

from providers.base import TargetResult
from providers.errors import ProtocolError, ProviderError
from providers.exchange_results import to_result
from providers.exchange_scope import CAPABILITIES, refusal
from providers.exchange_script import (
    PayloadItem,
    build_invocation,
    build_payload,
    classify_fatal,
    parse_output,
)
from providers.exchange_sessions import session_chunks
from providers.targets import Scope, Target, Verb
from providers.winrm_runner import WinRMRunner, WinRMSettings

__all__ = ["CAPABILITIES", "ExchangeProvider", "ExchangeSettings", "WinRMSettings"]

_log = logging.getLogger(__name__)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
_ORGANIZATION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.onmicrosoft\.com$")


@dataclass(frozen=True)
class ExchangeSettings:
    """One tenant's app-only Exchange Online identity and the host that runs PowerShell."""

    organization: str
    app_id: str
    certificate_thumbprint: str
    winrm: WinRMSettings
    max_concurrency: int = 2
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not _ORGANIZATION.match(self.organization):
            raise ValueError("organization must be the tenant's primary *.onmicrosoft.com domain")
        if not _GUID.match(self.app_id):
            raise ValueError("app_id must be a GUID")
        if not _THUMBPRINT.match(self.certificate_thumbprint):
            raise ValueError("certificate_thumbprint must be 40 hexadecimal characters")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")

    @classmethod
    def from_mapping(cls, config: Mapping[str, object]) -> ExchangeSettings:
        """Build from one tenant's config block (``${VAR}`` already substituted)."""
        winrm = config["winrm"]
        if not isinstance(winrm, Mapping):
            raise ValueError("winrm must be a mapping")
        verify = winrm.get("verify_tls", True)
        return cls(
            organization=str(config["organization"]),
            app_id=str(config["app_id"]),
            certificate_thumbprint=str(config["certificate_thumbprint"]),
            winrm=WinRMSettings(
                url=str(winrm["url"]),
                transport=str(winrm["transport"]),
                username=str(winrm["username"]),
                password=str(winrm["password"]),
                verify_tls=verify if isinstance(verify, bool) else str(verify),
                read_timeout_s=int(winrm.get("read_timeout_s", 60)),
                operation_timeout_s=int(winrm.get("operation_timeout_s", 50)),
                command_timeout_s=int(winrm.get("command_timeout_s", 900)),
            ),
            max_concurrency=int(str(config.get("max_concurrency", 2))),  # YAML int or str
            dry_run=bool(config.get("dry_run", False)),
        )


PROGRESS_PER_SESSION = 100  # mailboxes per session between two progress reports


class ExchangeProvider:
    """Provider for one Exchange Online tenant; thread-safe, at most ``max_concurrency`` runs."""

    kind = "exchange"

    def __init__(self, settings: ExchangeSettings, *, runner: WinRMRunner | None = None) -> None:
        self._settings = settings
        self._runner = runner or WinRMRunner(settings.winrm)
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        # targets per apply() when callers report progress on a bulk change: each call is
        # split over the sessions here (one connect each), so a bulk of 1,000 shows progress
        # every ~100 mailboxes a session (~90 s at 300 ms a cmdlet) for a few more connects
        self.batch_size = PROGRESS_PER_SESSION * settings.max_concurrency
        self._closed = False

    def __repr__(self) -> str:
        return f"ExchangeProvider(organization={self._settings.organization!r})"

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return CAPABILITIES

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        """Resolve every mailbox in one command; an unknown or ambiguous one gets an error."""
        return self._batch("check", Verb.STATUS, targets)

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self._batch("status", Verb.STATUS, targets)

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        """Set, read back and verify every target in one command (dry run: read only)."""
        return self._batch("apply", verb, targets)

    def close(self) -> None:
        """Nothing is pooled (every command opens and deletes its own shell); refuse new work."""
        self._closed = True

    def _batch(self, op: str, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        if self._closed:
            raise RuntimeError("ExchangeProvider is closed")
        results: list[TargetResult | None] = [None] * len(targets)
        sendable: list[tuple[int, Target]] = []
        for index, target in enumerate(targets):
            refused = refusal(op, verb, target)
            if refused is None:
                sendable.append((index, target))
            else:
                results[index] = TargetResult(target, error=refused)
        if sendable:
            sent = [t for _, t in sendable]
            for (index, _), result in zip(sendable, self._sessions(op, verb, sent), strict=True):
                results[index] = result
        return [r for r in results if r is not None]

    def _sessions(self, op: str, verb: Verb, targets: list[Target]) -> list[TargetResult]:
        """One command per slice, the slices at the same time; results in the given order."""
        chunks = session_chunks(targets, self._settings.max_concurrency)
        if len(chunks) == 1:
            return self._run(op, verb, chunks[0])
        with ThreadPoolExecutor(len(chunks), thread_name_prefix="exchange") as pool:
            # each thread gets the caller's context: its deadline and its log's request ID
            futures = [pool.submit(copy_context().run, self._run, op, verb, c) for c in chunks]
            return [result for future in futures for result in future.result()]

    def _run(self, op: str, verb: Verb, targets: list[Target]) -> list[TargetResult]:
        """One WinRM command for the whole list; a run-level failure fails every target."""
        s = self._settings
        request_id = uuid.uuid4().hex
        dry_run = s.dry_run and op == "apply"
        payload = build_payload(
            op=op,
            verb=str(verb),
            items=[PayloadItem(str(t.scope), t.name) for t in targets],
            connect={
                "Organization": s.organization,
                "AppId": s.app_id,
                "CertificateThumbprint": s.certificate_thumbprint,
            },
            dry_run=dry_run,
            request_id=request_id,
        )
        invocation = build_invocation(payload)
        try:
            with self._slots:
                run = self._runner.run(invocation.command_line, invocation.stdin)
            if run.stderr:  # progress records / CLIXML: informative, never failure by itself
                _log.debug("exchange stderr ignored (exit %d): %.500r", run.exit_code, run.stderr)
            output = parse_output(
                run.stdout, run.exit_code, expected_items=len(targets), request_id=request_id
            )
        except ProviderError as exc:
            return [TargetResult(t, error=exc) for t in targets]
        if output.fatal is not None:
            error = classify_fatal(output.fatal)
            return [TargetResult(t, error=error) for t in targets]
        change = verb if op == "apply" else None
        results: list[TargetResult] = []
        for target, item in zip(targets, output.items, strict=True):
            try:
                if item.get("scope") != str(target.scope) or item.get("identity") != target.name:
                    raise ProtocolError("The Exchange script answered for a different target.")
                results.append(to_result(target, item, verb=change, dry_run=dry_run))
            except ProtocolError as exc:
                results.append(TargetResult(target, error=exc))
        return results
