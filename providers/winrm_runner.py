"""Run one command on a Windows host over WinRM (pywinrm), feeding it stdin.

pywinrm's ``Session.run_ps`` puts the whole script on the command line, which cmd.exe caps at
~8,191 characters; this runner sends a short fixed command line and streams the rest through
the WS-Man Send operation, so batch size is not capped. Every pywinrm/requests exception is
translated here into the provider error types, and the password never appears in any text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from providers import deadline
from providers.errors import AuthError, ProtocolError, ProviderError, ProviderTimeout, Unavailable
from providers.winrm_deadline import Cutter, OperationCut

__all__ = ["RunResult", "WinRMRunner", "WinRMSettings", "TRANSPORTS"]

TRANSPORTS = frozenset({"ntlm", "kerberos", "credssp", "ssl", "basic"})
STDIN_CHUNK = 32 * 1024  # raw bytes per Send; base64 keeps it well under MaxEnvelopeSize
UTF8_CODEPAGE = 65001
CLEANUP_S = 10.0  # Signal/Delete limit, even past the deadline
_T = TypeVar("_T")


@dataclass(frozen=True)
class WinRMSettings:
    """How to reach the Windows management host. ``password`` is kept out of ``repr``."""

    url: str
    transport: str
    username: str
    password: str = field(repr=False)
    verify_tls: bool | str = True
    read_timeout_s: int = 60
    operation_timeout_s: int = 50
    command_timeout_s: int = 900  # whole command; EXO REST cmdlets time out at 15 minutes

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValueError("winrm.url must be http(s)://host[:port]/wsman without credentials")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"winrm.transport must be one of {sorted(TRANSPORTS)}")
        if not 0 < self.operation_timeout_s < self.read_timeout_s:
            raise ValueError("winrm.operation_timeout_s must be positive and below read_timeout_s")
        if self.command_timeout_s <= 0:
            raise ValueError("winrm.command_timeout_s must be positive")


@dataclass(frozen=True, slots=True)
class RunResult:
    """Raw outcome of one command: stdout, stderr (often CLIXML progress) and exit code."""

    stdout: bytes
    stderr: bytes
    exit_code: int


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


@contextmanager
def _translated(secret: str, read_timeout_s: int) -> Iterator[None]:
    """Turn pywinrm/requests exceptions into provider errors without leaking the password."""
    try:
        yield
    except ProviderError:
        raise
    except AuthenticationError as exc:
        raise AuthError("The Windows management host rejected the WinRM credentials.") from exc
    except WSManFaultError as exc:
        detail = f"WS-Man fault {exc.wsman_fault_code} (HTTP {exc.code}): {exc.reason}"
        raise Unavailable(
            "The Windows management host returned a WinRM fault.", detail=_scrub(detail, secret)
        ) from exc
    except WinRMTransportError as exc:
        if exc.code in (401, 403):
            raise AuthError("The Windows management host refused the WinRM login.") from exc
        raise Unavailable(
            "The Windows management host returned an HTTP error.", detail=f"HTTP {exc.code}"
        ) from exc
    except requests.Timeout as exc:
        raise ProviderTimeout(
            f"The Windows management host did not answer within {read_timeout_s} s.",
            detail=type(exc).__name__,
        ) from exc
    except WinRMOperationTimeoutError as exc:
        raise Unavailable(
            "The Windows management host timed out.", detail=type(exc).__name__
        ) from exc
    except requests.RequestException as exc:
        detail = _scrub(f"{type(exc).__name__}: {exc}", secret)[:300]
        raise Unavailable(
            "The Windows management host could not be reached.", detail=detail
        ) from exc
    except WinRMError as exc:
        detail = _scrub(f"{type(exc).__name__}: {exc}", secret)[:300]
        raise Unavailable("WinRM failed.", detail=detail) from exc
    except (ET.ParseError, StopIteration, AssertionError, KeyError, ValueError) as exc:
        raise ProtocolError(
            "The Windows management host sent a malformed WS-Man reply.",
            detail=type(exc).__name__,
        ) from exc


class WinRMRunner:
    """Runs one command per call in a fresh shell (pywinrm closes its HTTP session per shell).

    Every WS-Man operation (one HTTP exchange) may take ``read_timeout_s`` of wall-clock time
    in all, and the whole command ``command_timeout_s`` or what is left of the caller's
    deadline, whichever ends first: a host that trickles its reply is cut off (ProviderTimeout).
    """

    def __init__(self, settings: WinRMSettings) -> None:
        self._settings = settings

    def _protocol(self) -> tuple[Protocol, Cutter]:
        s = self._settings
        validation = "ignore" if s.verify_tls is False else "validate"
        ca_path = s.verify_tls if isinstance(s.verify_tls, str) else None
        protocol = Protocol(
            endpoint=s.url,
            transport=s.transport,  # type: ignore[arg-type]
            username=s.username,
            password=s.password,
            server_cert_validation=validation,  # type: ignore[arg-type]
            ca_trust_path=ca_path,  # type: ignore[arg-type]
            read_timeout_sec=s.read_timeout_s,
            operation_timeout_sec=s.operation_timeout_s,
            proxy=None,
        )
        cutter = Cutter()
        cutter.install(protocol.transport.build_session())
        return protocol, cutter

    def run(self, command_line: str, stdin: bytes) -> RunResult:
        """Open a UTF-8 shell, run ``command_line``, stream ``stdin``, collect output, clean up."""
        s = self._settings
        outer = deadline.remaining()
        ours = outer is None or outer >= s.command_timeout_s  # which limit a timeout names
        with _translated(s.password, s.read_timeout_s), deadline.budget(s.command_timeout_s):
            protocol, cutter = self._protocol()
            op = _Operations(cutter, s, ours)
            shell_id = op(protocol.open_shell, codepage=UTF8_CODEPAGE, noprofile=True)
            try:
                command_id = op(
                    protocol.run_command, shell_id, command_line, console_mode_stdin=False
                )
                try:
                    self._send(op, protocol, shell_id, command_id, stdin)
                    return self._receive(op, protocol, shell_id, command_id)
                finally:
                    op.cleanup(protocol.cleanup_command, shell_id, command_id)
            finally:
                op.cleanup(protocol.close_shell, shell_id)

    @staticmethod
    def _send(
        op: _Operations, protocol: Protocol, shell_id: str, command_id: str, data: bytes
    ) -> None:
        chunks = [data[i : i + STDIN_CHUNK] for i in range(0, len(data), STDIN_CHUNK)] or [b""]
        for index, chunk in enumerate(chunks):
            end = index == len(chunks) - 1
            op(protocol.send_command_input, shell_id, command_id, chunk, end=end)

    @staticmethod
    def _receive(op: _Operations, protocol: Protocol, shell_id: str, command_id: str) -> RunResult:
        """Like pywinrm's get_command_output, but with an overall deadline instead of forever."""
        out: list[bytes] = []
        err: list[bytes] = []
        while True:
            try:
                chunk_out, chunk_err, code, done = op(
                    protocol.get_command_output_raw, shell_id, command_id
                )
            except WinRMOperationTimeoutError:
                chunk_out, chunk_err, code, done = b"", b"", -1, False
            out.append(chunk_out)
            err.append(chunk_err)
            if done:
                return RunResult(stdout=b"".join(out), stderr=b"".join(err), exit_code=code)
            if deadline.expired():
                raise op.timeout()


class _Operations:
    """Runs each WS-Man operation under its wall-clock limit; names the limit that ran out."""

    def __init__(self, cutter: Cutter, settings: WinRMSettings, command_limit: bool) -> None:
        self._cutter = cutter
        self._settings = settings
        self._command_limit = command_limit

    def __call__(self, call: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        read_s = float(self._settings.read_timeout_s)
        left = deadline.remaining()
        try:
            with self._cutter.limit(read_s if left is None else min(read_s, left)):
                return call(*args, **kwargs)
        except OperationCut as exc:
            raise self.timeout() from exc

    def cleanup(self, call: Callable[..., object], *args: str) -> None:
        """Signal/Delete get their own short limit, past the deadline too: shells must not
        pile up on the host; a failure here never hides the command's real outcome."""
        try:
            with self._cutter.limit(min(float(self._settings.read_timeout_s), CLEANUP_S)):
                call(*args)
        except Exception:  # cleanup is best effort by design
            return

    def timeout(self) -> ProviderTimeout:
        s = self._settings
        if not deadline.expired():
            return ProviderTimeout(
                f"The Windows management host did not answer within {s.read_timeout_s} s.",
                detail="WS-Man operation cut at its wall-clock limit",
            )
        if self._command_limit:
            return ProviderTimeout(
                "The Exchange command did not finish in time.",
                detail=f"no completion after {s.command_timeout_s}s",
            )
        return ProviderTimeout(
            "The Windows management host did not answer before the request's time ran out.",
            detail="caller's deadline passed",
        )
