"""ExchangeRestProvider against the loopback InvokeCommand/$batch endpoint, over real HTTPS.

The same table as the WinRM provider (org disable/enable/status; mailbox disable/enable/reset/
status), every change read back, not-found and ambiguous, the three-state flag (null is not
false), a change that shows only on a later read, dry run. The fake asserts after every test
that each request was the documented JSON (no PowerShell on the wire).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from providers.base import Provider
from providers.errors import (
    AmbiguousTarget,
    InvalidTarget,
    ProtocolError,
    TargetNotFound,
    VerificationFailed,
)
from providers.exchange import CAPABILITIES
from providers.exchange_rest import ExchangeRestProvider
from providers.targets import Scope, Target, Verb
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.exchange_rest import FakeExchangeRest

BOB = Target.parse("bob@contoso.com")
ALICE = Target.parse("alice@contoso.com")
CAROL = Target.parse("carol@contoso.com")
SHARED = Target.parse("shared@contoso.com")
NOBODY = Target.parse("nobody@contoso.com")
TENANT = Target.tenant()

Make = Callable[..., ExchangeRestProvider]


def test_is_a_provider_with_the_winrm_capabilities(make_rest: Make) -> None:
    rest = make_rest()
    assert isinstance(rest, Provider)
    assert rest.kind == "exchange"
    assert rest.capabilities() == CAPABILITIES
    assert isinstance(rest.batch_size, int) and rest.batch_size >= 10


@pytest.mark.parametrize(("verb", "expected"), [(Verb.DISABLE, True), (Verb.ENABLE, False)])
def test_org_disable_and_enable_are_set_and_read_back(
    make_rest: Make,
    exo_rest: FakeExchangeRest,
    exo_rest_org: FakeExchangeOrg,
    verb: Verb,
    expected: bool,
) -> None:
    exo_rest_org.org_disabled = not expected
    (result,) = make_rest().apply(verb, [TENANT])
    assert result.ok, result.message
    assert exo_rest_org.org_disabled is expected
    assert result.state is not None
    assert result.state.facts == {"smtp_client_authentication_disabled": expected}
    assert f"SmtpClientAuthenticationDisabled = ${str(expected).lower()}" in result.message
    assert exo_rest.cmdlets_called("Set-TransportConfig") == 1
    assert exo_rest.cmdlets_called("Get-TransportConfig") == 2  # first read + read-back


def test_org_already_in_state_is_not_set_again(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    exo_rest_org.org_disabled = True
    (result,) = make_rest().apply(Verb.DISABLE, [TENANT])
    assert result.ok
    assert exo_rest.cmdlets_called("Set-TransportConfig") == 0


def test_org_status_reads_without_changing(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    exo_rest_org.org_disabled = True
    (result,) = make_rest().status([TENANT])
    assert result.ok
    assert result.message.startswith("SMTP AUTH disabled for the whole organisation")
    assert exo_rest.cmdlets_called("Set-TransportConfig") == 0


def test_mailbox_status_shows_null_apart_from_false(
    make_rest: Make, exo_rest_org: FakeExchangeOrg
) -> None:
    exo_rest_org.org_disabled = True
    bob, alice, carol = make_rest().status([BOB, ALICE, CAROL])
    assert bob.state is not None and alice.state is not None and carol.state is not None
    assert bob.state.facts["smtp_client_authentication_disabled"] is None
    assert bob.state.facts["inherited"] is True
    assert bob.state.facts["effective_disabled"] is True  # null follows the org's $true
    assert "follows the organisation" in bob.message
    assert alice.state.facts["smtp_client_authentication_disabled"] is False
    assert alice.state.facts["effective_disabled"] is False  # an explicit $false wins
    assert "set on the mailbox ($false" in alice.message
    assert carol.state.facts["smtp_client_authentication_disabled"] is True
    assert bob.state.facts["guid"] == exo_rest_org.mailbox("bob@contoso.com").guid


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
    make_rest: Make,
    exo_rest: FakeExchangeRest,
    exo_rest_org: FakeExchangeOrg,
    verb: Verb,
    start: bool | None,
    expected: bool | None,
) -> None:
    box = exo_rest_org.mailbox("bob@contoso.com")
    box.smtp_auth_disabled = start
    (result,) = make_rest().apply(verb, [BOB])
    assert result.ok, result.message
    assert box.smtp_auth_disabled is expected
    assert exo_rest_org.calls.set_identities == [box.guid]  # changed by GUID, not by address
    assert result.state is not None
    assert result.state.facts["smtp_client_authentication_disabled"] is expected
    assert result.state.facts["guid"] == box.guid
    assert exo_rest.cmdlets_called("Get-CASMailbox") == 2  # resolve + read-back


def test_reset_is_not_the_same_as_enable(make_rest: Make, exo_rest_org: FakeExchangeOrg) -> None:
    """$null (follow the org) and $false (explicit exception) are different states."""
    box = exo_rest_org.mailbox("bob@contoso.com")
    box.smtp_auth_disabled = False
    exo_rest_org.org_disabled = True
    (result,) = make_rest().apply(Verb.RESET, [BOB])
    assert result.ok
    assert box.smtp_auth_disabled is None
    assert result.state is not None and result.state.facts["effective_disabled"] is True


def test_not_found_and_ambiguous_are_typed_and_nothing_is_changed(
    make_rest: Make, exo_rest_org: FakeExchangeOrg
) -> None:
    nobody, shared, bob = make_rest().apply(Verb.DISABLE, [NOBODY, SHARED, BOB])
    assert isinstance(nobody.error, TargetNotFound)
    assert nobody.error.before_change
    assert "ManagementObjectNotFoundException" in nobody.error.detail
    assert isinstance(shared.error, AmbiguousTarget)
    assert "use its GUID" in shared.message
    assert shared.error.before_change
    assert bob.ok  # one target's failure never stops the others
    assert exo_rest_org.calls.set_identities == [exo_rest_org.mailbox("bob@contoso.com").guid]


def test_check_targets_resolves_without_changing(
    make_rest: Make, exo_rest_org: FakeExchangeOrg
) -> None:
    bob, nobody = make_rest().check_targets([BOB, NOBODY])
    assert bob.ok and isinstance(nobody.error, TargetNotFound)
    assert exo_rest_org.calls.set_cas == 0


def test_a_guid_target_works_like_an_address(
    make_rest: Make, exo_rest_org: FakeExchangeOrg
) -> None:
    box = exo_rest_org.mailbox("carol@contoso.com")
    (result,) = make_rest().apply(Verb.ENABLE, [Target.parse(box.guid)])
    assert result.ok and box.smtp_auth_disabled is False


def test_a_change_that_shows_only_on_a_later_read_is_read_again(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    exo_rest.stale_reads = 2  # the first two reads after a Set still show the old value
    (mailbox, org) = make_rest().apply(Verb.DISABLE, [BOB, TENANT])
    assert mailbox.ok, mailbox.message
    assert org.ok, org.message
    assert exo_rest.cmdlets_called("Get-CASMailbox") == 1 + 3  # resolve, 2 stale, 1 good


def test_a_change_that_never_shows_is_a_verification_failure(
    make_rest: Make, exo_rest_org: FakeExchangeOrg
) -> None:
    box = exo_rest_org.mailbox("bob@contoso.com")
    exo_rest_org.sticky.add(box.guid)  # accepts Set-CASMailbox, never changes
    (result,) = make_rest().apply(Verb.DISABLE, [BOB])
    assert isinstance(result.error, VerificationFailed)
    assert "reads back SmtpClientAuthenticationDisabled = $null, not $true" in result.message
    assert not result.error.before_change


def test_re_reads_are_bounded(make_rest: Make, exo_rest: FakeExchangeRest) -> None:
    exo_rest.stale_reads = 50
    (result,) = make_rest(reread_delays_s=(0.01, 0.01)).apply(Verb.DISABLE, [BOB])
    assert isinstance(result.error, VerificationFailed)
    assert exo_rest.cmdlets_called("Get-CASMailbox") == 1 + 3  # resolve, read-back, 2 re-reads


def test_dry_run_reads_and_plans_but_sends_no_set(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    bob, org = make_rest(dry_run=True).apply(Verb.DISABLE, [BOB, TENANT])
    guid = exo_rest_org.mailbox("bob@contoso.com").guid
    assert bob.planned == (
        f"Set-CASMailbox -Identity {guid} -SmtpClientAuthenticationDisabled $true",
    )
    assert org.planned == ("Set-TransportConfig -SmtpClientAuthenticationDisabled $true",)
    assert exo_rest.cmdlets_called("Set-CASMailbox") == 0
    assert exo_rest.cmdlets_called("Set-TransportConfig") == 0


def test_refused_targets_never_reach_exchange(make_rest: Make, exo_rest: FakeExchangeRest) -> None:
    hold, reset_org = make_rest().apply(Verb.HOLD, [BOB]), make_rest().apply(Verb.RESET, [TENANT])
    assert isinstance(hold[0].error, InvalidTarget)
    assert isinstance(reset_org[0].error, InvalidTarget)
    forged = Target(Scope.MAILBOX, "")  # Get-CASMailbox with an empty identity lists everyone
    (empty,) = make_rest().status([forged])
    assert isinstance(empty.error, InvalidTarget)
    assert exo_rest.served == []


def test_a_reply_without_the_property_is_not_read_as_null(
    make_rest: Make, exo_rest: FakeExchangeRest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CIPP#5450: a flag missing from the reply looked like $null; here it is an error."""
    shape = FakeExchangeRest._shape
    monkeypatch.setattr(
        FakeExchangeRest, "_shape", staticmethod(lambda record, select: shape(record, []))
    )
    bob, org = make_rest().status([BOB, TENANT])
    assert isinstance(bob.error, ProtocolError)
    assert "does not carry SmtpClientAuthenticationDisabled" in bob.message
    assert isinstance(org.error, ProtocolError)
