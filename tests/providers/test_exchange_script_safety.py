"""Proof that user text never becomes PowerShell: tree-sitter over every program text we send.

The provider sends exactly two program texts (the bootstrap on the command line, exchange.ps1
on stdin). For a corpus of hostile identities and reasons fed straight into the payload builder
(most would be refused earlier by Target.parse), both texts stay byte-identical, parse without
errors, and contain exactly the fixed set of commands; the data only ever appears as base64.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import pytest
import tree_sitter
import tree_sitter_powershell
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.errors import InvalidTarget, TargetNotFound
from providers.exchange_results import to_result
from providers.exchange_script import (
    PayloadItem,
    build_invocation,
    build_payload,
    command_line,
    parse_output,
    script_bytes,
)
from providers.targets import Scope, Target, Verb
from providers.winrm_runner import WinRMRunner
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.winrm_host import FakeWinRMHost, provider_for

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
CONNECT = {
    "Organization": "contoso.onmicrosoft.com",
    "AppId": "11111111-2222-3333-4444-555555555555",
    "CertificateThumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
}
BOOTSTRAP_COMMANDS = {"New-Object", "Out-String", "&([ScriptBlock]::Create($code))"}
SCRIPT_COMMANDS = {
    "Connect-ExchangeOnline",
    "Disconnect-ExchangeOnline",
    "Get-TransportConfig",
    "Set-TransportConfig",
    "Get-CASMailbox",
    "Set-CASMailbox",
    "ConvertFrom-Json",
    "ConvertTo-Json",
    "New-Object",
    "Set-StrictMode",
    "ConvertTo-NullableBool",  # functions defined in the script itself
    "Get-ErrorInfo",
    "Get-OneMailbox",
    "New-ItemError",
}
SPLATTED = {b"Connect-ExchangeOnline", b"Get-CASMailbox", b"Set-CASMailbox", b"Set-TransportConfig"}
B64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")

QUOTES = ["'", "\u2018", "\u2019", "\u201a", "\u201b", '"', "\u201c", "\u201e"]
PAYLOADS = [
    "$(Remove-Mailbox -Identity * -Confirm:$false)",
    "'; Set-TransportConfig -SmtpClientAuthenticationDisabled $false; '",
    "`$(whoami)`",
    "``; calc",
    "; Disconnect-ExchangeOnline",
    "| Out-File C:\\x",
    "\n Invoke-Expression 'x'",
    "\r\nStart-Process cmd",
    "\x00Get-Process",
    "${env:CONTOSO_WINRM_PASSWORD}",
    "@(1,2)",
    "$null",
    "-Identity *",
    "<# c #>",
    "#",
    "\u200fbob\u202e@contoso.com",
    "\u2066$(x)\u2069",
    "& { iex $x }",
    "%{ $_ }",
    "\ufeff",
    "\t-Confirm:$false",
    "*",
    "bob@contoso.com' -SmtpClientAuthenticationDisabled $false #",
    "}) ; Get-Mailbox ; ({",
    "\\\\evil\\share\\x.ps1",
]


def _corpus() -> list[str]:
    items = [f"bob{q}{p}{q}@contoso.com" for q in QUOTES for p in PAYLOADS]
    items += [q + p for q, p in zip(QUOTES * 4, PAYLOADS, strict=False)]
    items += [
        "x" * 10_000 + "'$(y)",
        "\u2019" * 50_000,
        "a" * 65 + "@contoso.com",
        "\x00" * 64,
        "bob@contoso.com\n",
        "\u202ebob@contoso.com",
    ]
    return items


CORPUS = _corpus()


def _commands(source: bytes) -> tuple[set[str], bool]:
    """The commands invoked in a PowerShell text, and whether the parse had errors."""
    tree = PARSER.parse(source)
    found: set[str] = set()

    def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
        yield node
        for child in node.children:
            yield from walk(child)

    for node in walk(tree.root_node):
        if node.type != "command":
            continue
        head = next(c for c in node.children if c.type in ("command_name", "command_name_expr"))
        text = (head.text or b"").decode()
        found.add(text if head.type == "command_name" else "&" + text)
    return found, tree.root_node.has_error


def _programs(stdin: bytes, line: str) -> tuple[bytes, bytes, bytes]:
    """Split an invocation into (bootstrap text, script text, payload field) as the host sees it."""
    encoded = line.rsplit(" ", 1)[1]
    bootstrap = base64.b64decode(encoded).decode("utf-16-le").encode("utf-8")
    script_b64, payload_b64 = stdin.split()
    return bootstrap, base64.b64decode(script_b64), payload_b64


def test_the_corpus_is_large_and_hostile() -> None:
    assert len(CORPUS) >= 200
    joined = "".join(CORPUS)
    for needle in [*QUOTES, "$(", "`", ";", "|", "\n", "\x00", "\u200f", "\u202e"]:
        assert needle in joined
    assert max(map(len, CORPUS)) >= 50_000


def test_both_program_texts_parse_to_the_fixed_command_sets() -> None:
    bootstrap, script, _ = _programs(build_invocation(b"{}").stdin, command_line())
    assert _commands(bootstrap) == (BOOTSTRAP_COMMANDS, False)
    assert _commands(script) == (SCRIPT_COMMANDS, False)
    assert script == script_bytes()
    assert len(command_line()) < 2000  # far below cmd.exe's 8,191


def test_mailbox_cmdlets_only_ever_receive_splatted_parameters() -> None:
    tree = PARSER.parse(script_bytes())
    stack = [tree.root_node]
    seen = 0
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        name = next((c for c in node.children if c.type == "command_name"), None)
        if node.type != "command" or name is None or name.text not in SPLATTED:
            continue
        elements = next(c for c in node.children if c.type == "command_elements")
        args = [c for c in elements.children if c.type != "command_argument_sep"]
        splats = [c.text for c in args if c.type != "redirection"]
        assert len(splats) == 1 and (splats[0] or b"").startswith(b"@"), splats
        assert all(c.text == b"6> $null" for c in args if c.type == "redirection")
        seen += 1
    assert seen == 5  # connect, get (x2: lookup and read-back), set mailbox, set org
    text = script_bytes().decode()
    assert text.index("IsNullOrWhiteSpace($identity)") < text.index("Get-CASMailbox @get")


@pytest.mark.parametrize("hostile", CORPUS, ids=range(len(CORPUS)))
def test_hostile_identity_and_reason_leave_the_program_unchanged(hostile: str) -> None:
    baseline = build_invocation(
        build_payload(op="status", verb="status", items=[], connect=CONNECT)
    )
    payload = build_payload(
        op="apply",
        verb="disable",
        items=[PayloadItem("mailbox", hostile), PayloadItem("tenant")],
        connect=CONNECT,
        note=hostile,
        request_id=hostile,
    )
    invocation = build_invocation(payload)
    bootstrap, script, data = _programs(invocation.stdin, invocation.command_line)
    assert invocation.command_line == baseline.command_line
    assert invocation.stdin.isascii()
    assert _commands(bootstrap) == (BOOTSTRAP_COMMANDS, False)
    assert _commands(script) == (SCRIPT_COMMANDS, False)
    assert script == script_bytes()
    assert B64.match(data)
    decoded = json.loads(base64.b64decode(data).decode("utf-8"))
    assert decoded["items"][0]["identity"] == hostile
    assert decoded["note"] == hostile


@given(identity=st.text(min_size=1).filter(str.strip), note=st.text())
@settings(max_examples=150, deadline=None)
def test_any_text_only_changes_the_payload_field(identity: str, note: str) -> None:
    invocation = build_invocation(
        build_payload(
            op="apply",
            verb="reset",
            items=[PayloadItem("mailbox", identity)],
            connect=CONNECT,
            note=note,
        )
    )
    _, script, data = _programs(invocation.stdin, invocation.command_line)
    assert invocation.command_line == command_line()
    assert script == script_bytes()
    assert json.loads(base64.b64decode(data))["items"][0]["identity"] == identity


def test_target_parse_rejects_or_neutralises_the_corpus() -> None:
    accepted = []
    for hostile in CORPUS:
        try:
            accepted.append(Target.parse(hostile))
        except InvalidTarget:
            continue
    assert all(re.fullmatch(r"[A-Za-z0-9@.!#%+_=^~-]+", t.name) for t in accepted)
    assert len(accepted) <= 2  # only the trailing-newline and overlong-local cases could pass


@pytest.mark.parametrize("empty", ["", "   ", "\t"])
def test_builder_refuses_an_empty_identity(empty: str) -> None:
    with pytest.raises(InvalidTarget):
        build_payload(
            op="status", verb="status", items=[PayloadItem("mailbox", empty)], connect=CONNECT
        )


@pytest.fixture
def safety_host() -> Iterator[FakeWinRMHost]:
    org = FakeExchangeOrg()
    org.add_mailbox("bob@contoso.com")
    org.add_mailbox("weird@contoso.com", other_identities=("o\u2019brien'$(x)`;|@contoso.com",))
    with FakeWinRMHost(org) as host:
        yield host
    assert host.violations == []


def _run_raw(host: FakeWinRMHost, items: list[dict[str, str]], verb: str = "disable") -> list:
    """Send a hand-made payload (bypassing every Python-side check) and classify the answers."""
    provider = provider_for(host)
    raw = {
        "v": 1, "op": "apply", "verb": verb, "dry_run": False, "request_id": "r1", "note": "",
        "connect": CONNECT, "items": items,
    }  # fmt: skip
    invocation = build_invocation(json.dumps(raw).encode("utf-8"))
    run = WinRMRunner(provider._settings.winrm).run(invocation.command_line, invocation.stdin)
    output = parse_output(run.stdout, run.exit_code, expected_items=len(items), request_id="r1")
    fake = Target(Scope.MAILBOX, "x")
    return [to_result(fake, item, verb=Verb(verb), dry_run=False) for item in output.items]


def test_the_script_refuses_empty_and_control_character_identities(
    safety_host: FakeWinRMHost,
) -> None:
    items = [{"scope": "mailbox", "identity": i} for i in ("", "   ", "bob@contoso.com\n")]
    results = _run_raw(safety_host, items)
    assert [type(r.error) for r in results] == [InvalidTarget] * 3
    assert safety_host.org.calls.get_cas == 0  # never asked Exchange for "every mailbox"
    assert safety_host.org.mailbox("bob@contoso.com").smtp_auth_disabled is None


def test_hostile_identities_reach_the_cmdlet_as_exact_data(safety_host: FakeWinRMHost) -> None:
    org = safety_host.org
    items = [{"scope": "mailbox", "identity": h} for h in CORPUS]
    items.append({"scope": "mailbox", "identity": "o\u2019brien'$(x)`;|@contoso.com"})
    results = _run_raw(safety_host, items)
    assert safety_host.commands == 1
    assert all(isinstance(r.error, (InvalidTarget, TargetNotFound)) for r in results[:-1])
    assert results[-1].ok
    weird = org.mailbox("weird@contoso.com")
    assert weird.smtp_auth_disabled is True
    assert org.calls.set_identities == [weird.guid]
    assert org.mailbox("bob@contoso.com").smtp_auth_disabled is None
