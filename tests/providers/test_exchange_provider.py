"""ExchangeProvider against the loopback WinRM host, through the real pywinrm client.

Every table cell (org disable/enable/status; mailbox disable/enable/reset/status), read-back
verification, not-found/ambiguous, dry run, and one command per session of a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from providers.base import Provider
from providers.errors import AmbiguousTarget, InvalidTarget, TargetNotFound, VerificationFailed
from providers.exchange import CAPABILITIES, ExchangeProvider, ExchangeSettings
from providers.targets import Scope, Target, Verb
from tests.fakes.exchange_emulator import FakeExchangeOrg, FakeMailbox
from tests.fakes.winrm_host import FakeWinRMHost, provider_for

BOB = Target.parse("bob@contoso.com")
ALICE = Target.parse("alice@contoso.com")
CAROL = Target.parse("carol@contoso.com")
TENANT = Target.tenant()


@pytest.fixture
def exo_org() -> FakeExchangeOrg:
    org = FakeExchangeOrg(org_disabled=False)
    org.add_mailbox("bob@contoso.com")  # follows the org
    org.add_mailbox("alice@contoso.com", disabled=False)  # explicit exception
    org.add_mailbox("carol@contoso.com", disabled=True)
    # Two mailboxes answer to "shared@contoso.com" (one by UPN, one by an old address).
    org.add_mailbox("shared@contoso.com", primary_smtp="shared.team@contoso.com")
    org.add_mailbox("ops@contoso.com", other_identities=("shared@contoso.com",))
    return org


@pytest.fixture
def exo_host(exo_org: FakeExchangeOrg) -> Iterator[FakeWinRMHost]:
    with FakeWinRMHost(exo_org) as host:
        yield host
    assert host.violations == []
    assert host.open_shells == 0


@pytest.fixture
def exo(exo_host: FakeWinRMHost) -> ExchangeProvider:
    return provider_for(exo_host)


def _box(org: FakeExchangeOrg, name: str) -> FakeMailbox:
    return org.mailbox(name)


def test_is_a_provider_with_the_documented_capabilities(exo: ExchangeProvider) -> None:
    assert isinstance(exo, Provider)
    assert exo.kind == "exchange"
    assert exo.capabilities() == CAPABILITIES
    assert (Scope.MAILBOX, Verb.RESET) in CAPABILITIES
    assert (Scope.TENANT, Verb.RESET) not in CAPABILITIES
    assert not any(scope is Scope.ACCOUNT for scope, _ in CAPABILITIES)
    assert not any(verb in (Verb.HOLD, Verb.RELEASE) for _, verb in CAPABILITIES)


@pytest.mark.parametrize(("verb", "expected"), [(Verb.DISABLE, True), (Verb.ENABLE, False)])
def test_org_disable_and_enable_are_set_and_read_back(
    exo: ExchangeProvider, exo_org: FakeExchangeOrg, verb: Verb, expected: bool
) -> None:
    exo_org.org_disabled = not expected
    (result,) = exo.apply(verb, [TENANT])
    assert result.ok, result.message
    assert exo_org.org_disabled is expected
    assert result.state is not None
    assert result.state.facts == {"smtp_client_authentication_disabled": expected}
    assert f"SmtpClientAuthenticationDisabled = ${str(expected).lower()}" in result.message
    assert exo_org.calls.set_transport == 1
    assert exo_org.calls.get_transport == 2  # initial read + read-back


def test_org_status_reads_without_changing(exo: ExchangeProvider, exo_org: FakeExchangeOrg) -> None:
    exo_org.org_disabled = True
    (result,) = exo.status([TENANT])
    assert result.ok
    assert result.state is not None
    assert result.state.facts["smtp_client_authentication_disabled"] is True
    assert result.message.startswith("SMTP AUTH disabled for the whole organisation")
    assert exo_org.calls.set_transport == 0


def test_mailbox_status_shows_explicit_versus_inherited(
    exo: ExchangeProvider, exo_org: FakeExchangeOrg
) -> None:
    exo_org.org_disabled = True
    bob, alice, carol = exo.status([BOB, ALICE, CAROL])
    assert bob.state is not None and alice.state is not None and carol.state is not None
    assert bob.state.facts["inherited"] is True
    assert bob.state.facts["smtp_client_authentication_disabled"] is None
    assert bob.state.facts["effective_disabled"] is True  # follows the org's $true
    assert "follows the organisation" in bob.message
    assert alice.state.facts["inherited"] is False
    assert alice.state.facts["effective_disabled"] is False  # explicit exception wins
    assert "set on the mailbox ($false" in alice.message
    assert carol.state.facts["smtp_client_authentication_disabled"] is True
    assert bob.state.facts["guid"] == _box(exo_org, "bob@contoso.com").guid
    assert exo_org.calls.set_cas == 0


@pytest.mark.parametrize(
    ("verb", "start", "expected"),
    [
        (Verb.DISABLE, None, True),
        (Verb.DISABLE, False, True),
        (Verb.ENABLE, None, False),
        (Verb.ENABLE, True, False),
        (Verb.RESET, True, None),
        (Verb.RESET, False, None),
    ],
)
def test_mailbox_changes_are_set_by_guid_and_verified(
    exo: ExchangeProvider,
    exo_org: FakeExchangeOrg,
    verb: Verb,
    start: bool | None,
    expected: bool | None,
) -> None:
    box = _box(exo_org, "bob@contoso.com")
    box.smtp_auth_disabled = start
    (result,) = exo.apply(verb, [BOB])
    assert result.ok, result.message
    assert box.smtp_auth_disabled is expected
    assert exo_org.calls.set_identities == [box.guid]  # never the user's text
    assert result.state is not None
    assert result.state.facts["smtp_client_authentication_disabled"] is expected
    assert result.state.facts["inherited"] is (expected is None)


def test_reset_reports_the_effective_organisation_value(
    exo: ExchangeProvider, exo_org: FakeExchangeOrg
) -> None:
    exo_org.org_disabled = True
    (result,) = exo.apply(Verb.RESET, [ALICE])
    assert result.state is not None
    assert result.state.facts["smtp_client_authentication_disabled"] is None
    assert result.state.facts["effective_disabled"] is True
    assert result.state.facts["organization_disabled"] is True
    assert result.message == (
        "SMTP AUTH disabled for alice@contoso.com: follows the organisation "
        "(mailbox $null, organisation $true)"
    )


def test_a_change_already_in_place_is_not_reissued(
    exo: ExchangeProvider, exo_org: FakeExchangeOrg
) -> None:
    (result,) = exo.apply(Verb.DISABLE, [CAROL])
    assert result.ok
    assert exo_org.calls.set_cas == 0
    assert result.state is not None and result.state.facts["effective_disabled"] is True


def test_read_back_mismatch_is_verification_failed(
    exo: ExchangeProvider, exo_org: FakeExchangeOrg
) -> None:
    exo_org.sticky.add(_box(exo_org, "bob@contoso.com").guid)
    bob, alice = exo.apply(Verb.DISABLE, [BOB, ALICE])
    assert isinstance(bob.error, VerificationFailed)
    assert "reads back SmtpClientAuthenticationDisabled = $null, not $true" in bob.message
    assert alice.ok  # one target's failure never stops the others
    assert _box(exo_org, "alice@contoso.com").smtp_auth_disabled is True


def test_unknown_and_ambiguous_mailboxes_are_typed_errors(
    exo: ExchangeProvider, exo_org: FakeExchangeOrg, exo_host: FakeWinRMHost
) -> None:
    nobody = Target.parse("nobody@contoso.com")
    shared = Target.parse("shared@contoso.com")
    results = exo.apply(Verb.DISABLE, [nobody, shared, BOB])
    assert isinstance(results[0].error, TargetNotFound)
    assert results[0].message == "Exchange has no mailbox “nobody@contoso.com”."
    assert isinstance(results[1].error, AmbiguousTarget)
    assert "use its GUID" in results[1].message
    assert results[2].ok
    assert exo_org.calls.set_cas == 1
    assert exo_host.commands == 1


def test_check_targets_resolves_the_batch_in_one_command(
    exo: ExchangeProvider, exo_org: FakeExchangeOrg, exo_host: FakeWinRMHost
) -> None:
    guid = Target.parse(_box(exo_org, "carol@contoso.com").guid.upper())
    results = exo.check_targets([TENANT, BOB, guid, Target.parse("ghost@contoso.com")])
    assert [r.ok for r in results] == [True, True, True, False]
    assert isinstance(results[3].error, TargetNotFound)
    assert results[2].state is not None
    assert results[2].state.facts["primary_smtp_address"] == "carol@contoso.com"
    assert exo_host.commands == 1
    assert exo_org.calls.connects == 1 and exo_org.calls.set_cas == 0


def test_unsupported_scopes_verbs_and_forged_targets_never_reach_the_host(
    exo: ExchangeProvider, exo_host: FakeWinRMHost
) -> None:
    forged = Target(Scope.MAILBOX, "")  # bypasses Target.parse: would list every mailbox
    quoted = Target(Scope.MAILBOX, "x'; Remove-Mailbox -Identity *; '@contoso.com")
    results = exo.status([Target(Scope.ACCOUNT, "bob"), forged, quoted])
    assert all(isinstance(r.error, InvalidTarget) for r in results)
    (reset_org,) = exo.apply(Verb.RESET, [TENANT])
    (hold,) = exo.apply(Verb.HOLD, [BOB])
    assert isinstance(reset_org.error, InvalidTarget)
    assert isinstance(hold.error, InvalidTarget)
    assert exo_host.commands == 0


def test_dry_run_plans_but_changes_nothing(
    exo_host: FakeWinRMHost, exo_org: FakeExchangeOrg
) -> None:
    provider = provider_for(exo_host, dry_run=True)
    box = _box(exo_org, "bob@contoso.com")
    tenant, bob, carol = provider.apply(Verb.DISABLE, [TENANT, BOB, CAROL])
    assert tenant.planned == ("Set-TransportConfig -SmtpClientAuthenticationDisabled $true",)
    assert bob.planned == (
        f"Set-CASMailbox -Identity {box.guid} -SmtpClientAuthenticationDisabled $true",
    )
    assert bob.message.startswith("dry run, would call: Set-CASMailbox")
    assert carol.planned == ()  # already disabled
    assert bob.state is not None and bob.state.facts["smtp_client_authentication_disabled"] is None
    assert exo_org.calls.set_cas == 0 and exo_org.calls.set_transport == 0
    assert exo_org.org_disabled is False and box.smtp_auth_disabled is None


@pytest.mark.parametrize("sessions", [1, 2])
def test_a_thousand_mailboxes_is_one_command_and_one_connect_per_session(
    exo_host: FakeWinRMHost, exo_org: FakeExchangeOrg, sessions: int
) -> None:
    exo = provider_for(exo_host, max_concurrency=sessions)
    targets = [
        Target.parse(exo_org.add_mailbox(f"user{i:04d}@contoso.com").upn) for i in range(1000)
    ]
    results = exo.apply(Verb.DISABLE, targets)
    assert [r.target for r in results] == targets
    assert len(results) == 1000 and all(r.ok for r in results)
    assert all(_box(exo_org, t.name).smtp_auth_disabled is True for t in targets)
    assert exo_host.commands == sessions
    assert exo_host.actions["Create"] == sessions
    assert exo_host.actions["Send"] > sessions  # stdin was streamed in several chunks
    assert exo_org.calls.connects == sessions and exo_org.calls.disconnects == sessions
    assert exo_org.calls.set_cas == 1000
    assert all(len(line) < 8191 for line in exo_host.command_lines)
    assert exo_host.codepages == ["65001"] * sessions


def test_results_keep_request_order_around_refusals(exo: ExchangeProvider) -> None:
    odd = Target(Scope.ACCOUNT, "acct")
    results = exo.status([CAROL, odd, BOB])
    assert [r.target for r in results] == [CAROL, odd, BOB]
    assert [r.ok for r in results] == [True, False, True]


def test_concurrency_is_capped_per_provider(exo_host: FakeWinRMHost) -> None:
    exo_host.command_delay_s = 0.1
    provider = provider_for(exo_host, max_concurrency=2)
    peak = 0
    active = 0
    lock = threading.Lock()
    real_run = provider._runner.run

    def counting_run(command_line: str, stdin: bytes):  # type: ignore[no-untyped-def]
        nonlocal peak, active
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return real_run(command_line, stdin)
        finally:
            with lock:
                active -= 1

    provider._runner.run = counting_run  # type: ignore[method-assign]
    threads = [threading.Thread(target=provider.status, args=([BOB],)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2
    assert exo_host.commands == 5


def test_close_refuses_new_work(exo: ExchangeProvider) -> None:
    exo.close()
    with pytest.raises(RuntimeError):
        exo.status([BOB])


def test_settings_hide_the_password_and_parse_the_pinned_config() -> None:
    settings = ExchangeSettings.from_mapping(
        {
            "provider": "exchange",
            "organization": "contoso.onmicrosoft.com",
            "app_id": "11111111-2222-3333-4444-555555555555",
            "certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
            "winrm": {
                "url": "https://mgmt01.contoso.example:5986/wsman",
                "transport": "ntlm",
                "username": "CONTOSO\\svc-smtpbot",
                "password": "hunter2-Very-Secret",
                "verify_tls": "/etc/ssl/contoso-ca.pem",
            },
            "approvers": ["S0EXCHADMINS"],
        }
    )
    assert "hunter2" not in repr(settings)
    assert settings.winrm.verify_tls == "/etc/ssl/contoso-ca.pem"
    assert settings.winrm.transport == "ntlm"
    assert settings.max_concurrency == 2 and settings.dry_run is False
    assert "hunter2" not in repr(ExchangeProvider(settings))


@pytest.mark.parametrize(
    "change",
    [
        {"organization": "contoso.com"},
        {"app_id": "not-a-guid"},
        {"certificate_thumbprint": "XYZ"},
        {"max_concurrency": 0},
    ],
)
def test_settings_reject_bad_values(exo_host: FakeWinRMHost, change: dict[str, object]) -> None:
    base = provider_for(exo_host)._settings
    values = {
        "organization": base.organization,
        "app_id": base.app_id,
        "certificate_thumbprint": base.certificate_thumbprint,
        "winrm": base.winrm,
        **change,
    }
    with pytest.raises(ValueError):
        ExchangeSettings(**values)  # type: ignore[arg-type]
