"""A loopback WS-Management server that the REAL pywinrm client talks to (transport='basic').

Serves Create, Command, Send, Receive, Signal and Delete on 127.0.0.1:<port 0>/wsman. It
answers AS a Windows host with ExchangeOnlineManagement: it checks that the command line is the
shipped bootstrap and that stdin carries the shipped exchange.ps1 byte for byte (anything else is
recorded in ``violations`` and fails the command), then hands the DATA payload to
``FakeExchangeOrg.run_script``. Fault injection: ``faults`` (see ``HostFaults``).
"""

from __future__ import annotations

import base64
import re
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from xml.sax.saxutils import escape

from providers.exchange import ExchangeProvider, ExchangeSettings, WinRMSettings
from tests.fakes.exchange_emulator import FakeExchangeOrg

__all__ = [
    "CLIXML_PROGRESS",
    "FakeWinRMHost",
    "HostFaults",
    "TIMEOUT_FAULT_CODE",
    "provider_for",
]

TIMEOUT_FAULT_CODE = 2150858793
_SHELL_NS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_DONE = f"{_SHELL_NS}/CommandState/Done"
_COMMAND = re.compile(
    r"^powershell\.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass "
    r"-EncodedCommand ([A-Za-z0-9+/=]+)$"
)
CLIXML_PROGRESS = (
    b"#< CLIXML\r\n"
    b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject'
    b'</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record">'
    b"<AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>"
    b"<T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>"
)
_ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    f'xmlns:rsp="{_SHELL_NS}"><s:Header><a:Action>{{action}}</a:Action>'
    "<a:RelatesTo>{relates}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
)


def shipped(name: str) -> bytes:
    """A script as shipped in the providers package (what the host must receive)."""
    return resources.files("providers").joinpath(f"scripts/{name}").read_bytes()


@dataclass
class HostFaults:
    """What to break. Counters decrement as faults fire."""

    auth_fail: bool = False  # HTTP 401 on every request
    soap_fault_on: str | None = None  # action suffix ("Create", "Command", ...) -> HTTP 500 fault
    receive_timeouts: int = 0  # operation-timeout faults before the real Receive answer
    receive_hang_s: float = 0.0  # sleep inside Receive (to trip the client's read timeout)
    garbage: tuple[int, bytes] | None = None  # (exit code, stdout) instead of the script's
    stderr: bytes = b""  # extra stderr (e.g. CLIXML_PROGRESS) on an otherwise normal run
    stdout_prefix: bytes = b""  # host output a module printed before the script's document
    trickle_on: str | None = None  # action suffix whose replies go out one byte at a time
    trickle_s: float = 0.5  # pause between the bytes of a trickled reply
    trickled: int = 0  # replies trickled so far


@dataclass
class _Command:
    command_line: str
    stdin: bytearray = field(default_factory=bytearray)
    stdin_done: bool = False
    result: tuple[bytes, bytes, int] | None = None
    running: threading.Thread | None = None


class FakeWinRMHost:
    """Thread-backed fake host; use as a context manager. Counters are read after runs."""

    def __init__(
        self,
        org: FakeExchangeOrg,
        *,
        username: str = "CONTOSO\\svc-smtpbot",
        password: str = "s3cret-W1nRM!",
        command_delay_s: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.org, self.username, self.password = org, username, password
        self.command_delay_s = command_delay_s
        self.receive_wait_s = 2.0  # a Receive waits this long for output (the operation timeout)
        self.faults = HostFaults()
        self.actions: Counter[str] = Counter()
        self.commands = 0
        self.codepages: list[str] = []
        self.command_lines: list[str] = []
        self.violations: list[str] = []
        self._shells: dict[str, dict[str, _Command]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.handle_error = _quiet  # type: ignore[method-assign]  # clients cut trickles
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}/wsman"

    @property
    def open_shells(self) -> int:
        return len(self._shells)

    def __enter__(self) -> FakeWinRMHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- dispatch ----------------------------------------------------------------------

    def handle(self, auth: str, body: bytes) -> tuple[int, bytes]:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if self.faults.auth_fail or auth != f"Basic {expected}":
            return 401, b""
        root = ET.fromstring(body)
        action = _text(root, "Action")
        name = action.rsplit("/", 1)[-1]
        message_id = _text(root, "MessageID")
        with self._lock:
            self.actions[name] += 1
        if self.faults.soap_fault_on == name:
            return 500, _fault(2150858770, "The WinRM client cannot process the request.")
        shell_id = next((n.text or "" for n in root.iter() if n.get("Name") == "ShellId"), "")
        handler = getattr(self, f"_on_{name.lower()}", None)
        if handler is None:
            return 500, _fault(2150858817, f"unsupported action {name}")
        return handler(root, shell_id, message_id)

    def _reply(self, action: str, relates: str, body: str) -> tuple[int, bytes]:
        xml = _ENVELOPE.format(action=action, relates=relates, body=body)
        return 200, xml.encode("utf-8")

    def _on_create(self, root: ET.Element, _: str, msg: str) -> tuple[int, bytes]:
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id] = {}
            self.codepages.append(
                next((n.text or "" for n in root.iter() if n.get("Name") == "WINRS_CODEPAGE"), "")
            )
        body = (
            "<x:ResourceCreated><a:Address>http://127.0.0.1/wsman</a:Address>"
            "<a:ReferenceParameters><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector>'
            "</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>"
        )
        return self._reply(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", msg, body
        )

    def _on_command(self, root: ET.Element, shell_id: str, msg: str) -> tuple[int, bytes]:
        line = " ".join(filter(None, (_text(root, "Command"), _text(root, "Arguments"))))
        command_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id][command_id] = _Command(line)
            self.commands += 1
            self.command_lines.append(line)
        body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId>"
        body += "</rsp:CommandResponse>"
        return self._reply(f"{_SHELL_NS}/CommandResponse", msg, body)

    def _on_send(self, root: ET.Element, shell_id: str, msg: str) -> tuple[int, bytes]:
        stream = next(n for n in root.iter() if n.tag.endswith("}Stream"))
        command = self._shells[shell_id][stream.get("CommandId", "")]
        command.stdin += base64.b64decode(stream.text or "")
        command.stdin_done = stream.get("End") == "true"
        return self._reply(f"{_SHELL_NS}/SendResponse", msg, "<rsp:SendResponse/>")

    def _on_receive(self, root: ET.Element, shell_id: str, msg: str) -> tuple[int, bytes]:
        command_id = next(n for n in root.iter() if n.tag.endswith("DesiredStream")).get(
            "CommandId", ""
        )
        command = self._shells[shell_id][command_id]
        if self.faults.receive_hang_s:
            time.sleep(self.faults.receive_hang_s)
        with self._lock:
            if self.faults.receive_timeouts > 0:
                self.faults.receive_timeouts -= 1
                return 500, _fault(TIMEOUT_FAULT_CODE, "The operation timed out.", timeout=True)
        if not command.stdin_done:
            running = f"{_SHELL_NS}/CommandState/Running"
            state = f'<rsp:CommandState CommandId="{command_id}" State="{running}"/>'
            body = f"<rsp:ReceiveResponse>{state}</rsp:ReceiveResponse>"
            return self._reply(f"{_SHELL_NS}/ReceiveResponse", msg, body)
        if command.result is None and not self._finished(command):
            # as WinRM does: no output within the operation timeout → a timeout fault, and
            # the client asks again (a long script spans many Receives)
            return 500, _fault(TIMEOUT_FAULT_CODE, "The operation timed out.", timeout=True)
        assert command.result is not None
        stdout, stderr, code = command.result
        parts = [_stream("stdout", command_id, stdout), _stream("stderr", command_id, stderr)]
        parts.append(f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>')
        parts.append(f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>')
        parts.append(
            f'<rsp:CommandState CommandId="{command_id}" State="{_DONE}">'
            f"<rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState>"
        )
        body = "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>"
        return self._reply(f"{_SHELL_NS}/ReceiveResponse", msg, body)

    def _finished(self, command: _Command) -> bool:
        """Run the command in the background (once); wait for it at most ``receive_wait_s``."""
        with self._lock:
            if command.running is None:

                def run() -> None:
                    time.sleep(self.command_delay_s)
                    command.result = self._execute(command)

                command.running = threading.Thread(target=run, daemon=True)
                command.running.start()
        command.running.join(self.receive_wait_s)
        return command.result is not None

    def _on_signal(self, _: ET.Element, shell_id: str, msg: str) -> tuple[int, bytes]:
        return self._reply(f"{_SHELL_NS}/SignalResponse", msg, "<rsp:SignalResponse/>")

    def _on_delete(self, _: ET.Element, shell_id: str, msg: str) -> tuple[int, bytes]:
        with self._lock:
            self._shells.pop(shell_id, None)
        return self._reply("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", msg, "")

    # --- "running" the command ---------------------------------------------------------

    def _execute(self, command: _Command) -> tuple[bytes, bytes, int]:
        """Act as powershell.exe running the bootstrap; refuse any other program text."""
        match = _COMMAND.match(command.command_line)
        bootstrap = base64.b64decode(match.group(1)).decode("utf-16-le") if match else None
        if bootstrap != shipped("bootstrap.ps1").decode("utf-8"):
            return self._violation("command line is not the shipped bootstrap")
        parts = command.stdin.decode("ascii", errors="replace").split()
        if len(parts) != 2:
            return b"", b"smtp-bot: bad stdin", 3
        if base64.b64decode(parts[0]) != shipped("exchange.ps1"):
            return self._violation("stdin script is not the shipped exchange.ps1")
        stdout, code = self.org.run_script(parts[1])
        if self.faults.garbage is not None:
            code, stdout = self.faults.garbage
        return self.faults.stdout_prefix + stdout, self.faults.stderr, code

    def _violation(self, what: str) -> tuple[bytes, bytes, int]:
        with self._lock:
            self.violations.append(what)
        return b"", f"fake host refused: {what}".encode(), 1


def provider_for(
    host: FakeWinRMHost,
    *,
    password: str | None = None,
    dry_run: bool = False,
    max_concurrency: int = 2,
    read_timeout_s: int = 10,
    operation_timeout_s: int = 5,
    command_timeout_s: int = 60,
    transport: str = "basic",
    verify_tls: bool | str = True,
) -> ExchangeProvider:
    """A real ExchangeProvider wired to the fake host (Basic auth over HTTP or HTTPS)."""
    org = host.org
    winrm = WinRMSettings(
        url=host.url,
        transport=transport,
        username=host.username,
        password=host.password if password is None else password,
        read_timeout_s=read_timeout_s,
        operation_timeout_s=operation_timeout_s,
        command_timeout_s=command_timeout_s,
        verify_tls=verify_tls,
    )
    settings = ExchangeSettings(
        organization=org.organization,
        app_id=org.app_id,
        certificate_thumbprint=org.thumbprint,
        winrm=winrm,
        max_concurrency=max_concurrency,
        dry_run=dry_run,
    )
    return ExchangeProvider(settings)


def _text(root: ET.Element, suffix: str) -> str:
    node = next((n for n in root.iter() if n.tag.endswith("}" + suffix)), None)
    return (node.text or "").strip() if node is not None else ""


def _stream(name: str, command_id: str, data: bytes, chunk: int = 32 * 1024) -> str:
    return "".join(
        f'<rsp:Stream Name="{name}" CommandId="{command_id}">'
        f"{base64.b64encode(data[i : i + chunk]).decode()}</rsp:Stream>"
        for i in range(0, len(data), chunk)
    )


def _quiet(request: object, client_address: object) -> None:
    """A client that gave up on a trickled reply is expected, not a server error."""


def _action(body: bytes) -> str:
    try:
        return _text(ET.fromstring(body), "Action").rsplit("/", 1)[-1]
    except ET.ParseError:
        return ""


def _fault(code: int, reason: str, *, timeout: bool = False) -> bytes:
    sub = "w:TimedOut" if timeout else "w:InternalError"
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Body><s:Fault>'
        f"<s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{sub}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{code}" Machine="mgmt01"><f:Message>{escape(reason)}</f:Message></f:WSManFault>'
        "</s:Detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


def _handler_for(host: FakeWinRMHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16  # one write per reply: no delayed-ACK stalls between header and body

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/wsman":
                status, reply = 404, b""
            else:
                status, reply = host.handle(self.headers.get("Authorization", ""), body)
            if host.faults.trickle_on and _action(body) == host.faults.trickle_on:
                self._trickle(status, reply)
                return
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def _trickle(self, status: int, reply: bytes) -> None:
            """Alive, but slower than any per-read timeout: every byte of the reply alone."""
            with host._lock:
                host.faults.trickled += 1
            head = (
                f"HTTP/1.1 {status} OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n"
                f"Content-Length: {len(reply)}\r\n\r\n"
            ).encode()
            self.close_connection = True
            try:
                for byte in head + reply:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(host.faults.trickle_s)
            except OSError:
                return  # the client gave up

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                return  # a client that cut a trickled reply short

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    return Handler
