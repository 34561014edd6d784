"""The REST wire: $batch (at most 10, continue-on-error, answers matched by id), 429/503 with
Retry-After (honoured, bounded, with jitter), per-item errors typed, paging, auth, deadlines,
and the fake's own wire check (it can fail: PowerShell-looking values are caught)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable

import httpx
import pytest

from providers import deadline
from providers.errors import (
    AmbiguousTarget,
    AuthError,
    ProtocolError,
    ProviderTimeout,
    Rejected,
    TargetNotFound,
    Unavailable,
)
from providers.exchange_rest import ExchangeRestProvider
from providers.exchange_rest.client import ExoRestClient
from providers.exchange_rest.wire import Command
from providers.targets import Target, Verb
from tests.fakes.exchange_emulator import FakeExchangeOrg, PSError
from tests.fakes.exchange_rest import FakeExchangeRest, FakeExoTokens

Make = Callable[..., ExchangeRestProvider]


class Sleeps:
    """A sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _many(org: FakeExchangeOrg, n: int) -> list[Target]:
    states = (None, True, False)
    return [
        Target.parse(org.add_mailbox(f"user{i:03d}@contoso.com", disabled=states[i % 3]).upn)
        for i in range(n)
    ]


def test_bulk_goes_in_batches_of_at_most_ten_and_answers_match_by_id(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    targets = _many(exo_rest_org, 25)
    results = make_rest().status(targets)
    batches = [s for s in exo_rest.served if s.path.endswith("/$batch")]
    assert sorted(len(b.cmdlets) for b in batches) == [5, 10, 10]
    for target, result in zip(targets, results, strict=True):
        box = exo_rest_org.mailbox(target.name)
        assert result.target == target
        assert result.state is not None  # the fake shuffles answers: only ids can line them up
        assert result.state.facts["guid"] == box.guid
        assert result.state.facts["smtp_client_authentication_disabled"] is box.smtp_auth_disabled


def test_bulk_disable_reads_every_mailbox_back_with_several_batches_in_flight(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    targets = _many(exo_rest_org, 60)
    exo_rest.batch_latency_s = 0.05
    results = make_rest(max_concurrency=4).apply(Verb.DISABLE, targets)
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    assert all(exo_rest_org.mailbox(t.name).smtp_auth_disabled is True for t in targets)
    assert exo_rest.max_in_flight > 1
    assert exo_rest.max_in_flight <= 4 + 1  # 4 batches, and the org's read beside them


def test_per_item_errors_inside_a_batch_are_typed(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    good = _many(exo_rest_org, 8)
    odd = [Target.parse("nobody@contoso.com"), Target.parse("shared@contoso.com")]
    results = make_rest().apply(Verb.DISABLE, [good[0], *odd, *good[1:]])
    assert isinstance(results[1].error, TargetNotFound)
    assert isinstance(results[2].error, AmbiguousTarget)
    assert "Ex6F9304|Microsoft.Exchange.Configuration.Tasks" in results[1].error.detail
    assert all(r.ok for i, r in enumerate(results) if i not in (1, 2))


def test_a_cmdlet_refusal_is_rejected_with_exchanges_reason_and_the_cause_in_detail(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    box = exo_rest_org.mailbox("bob@contoso.com")
    exo_rest.set_refusals[box.guid] = PSError(
        "System.Exception",
        "Ex2F4A41|Microsoft.Exchange.Data.DataValidationException|The mailbox is on hold.",
        reason="DataValidationException",
    )
    (result,) = make_rest().apply(Verb.DISABLE, [Target.parse("bob@contoso.com")])
    assert isinstance(result.error, Rejected)
    assert "The mailbox is on hold." in result.message
    assert "DataValidationException" in result.error.detail
    assert not result.error.before_change  # the Set was sent; Exchange refused it
    assert box.smtp_auth_disabled is None


def test_429_on_the_request_waits_retry_after_then_succeeds(
    make_rest: Make, exo_rest: FakeExchangeRest
) -> None:
    sleeps = Sleeps()
    exo_rest.throttle_next(2, retry_after="3")
    (result,) = make_rest(sleep=sleeps).status([Target.parse("bob@contoso.com")])
    assert result.ok, result.message
    throttled = [s for s in sleeps.calls if s >= 3]
    assert len(throttled) == 2
    assert all(3 <= s <= 3 * 1.25 for s in throttled)  # never sooner; jitter at most 25%


def test_429_inside_a_batch_resends_only_the_throttled_sub_requests(
    make_rest: Make, exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg
) -> None:
    targets = _many(exo_rest_org, 10)
    sleeps = Sleeps()
    exo_rest.throttle_items_next(3, retry_after="2")
    results = make_rest(sleep=sleeps).status(targets)
    assert all(r.ok for r in results)
    batches = [s for s in exo_rest.served if s.path.endswith("/$batch")]
    assert [len(b.cmdlets) for b in batches] == [10, 3]
    assert [s for s in sleeps.calls if s >= 2] and max(sleeps.calls) <= 2.5


def test_throttling_is_bounded_and_then_a_typed_error(
    make_rest: Make, exo_rest: FakeExchangeRest
) -> None:
    sleeps = Sleeps()
    exo_rest.throttle_next(10, retry_after="1", status=503)
    (result,) = make_rest(sleep=sleeps, retries=2).status([Target.parse("bob@contoso.com")])
    assert isinstance(result.error, Unavailable)
    assert "HTTP 503" in result.message
    # two calls (Get-CASMailbox and the org's Get-TransportConfig), each tried 1 + 2 times
    assert len(sleeps.calls) == 4
    assert len(exo_rest.served) == 6


def test_retry_after_longer_than_the_deadline_is_not_slept(
    make_rest: Make, exo_rest: FakeExchangeRest
) -> None:
    sleeps = Sleeps()
    exo_rest.throttle_next(1, retry_after="30")
    with deadline.budget(2.0):
        (result,) = make_rest(sleep=sleeps).status([Target.parse("bob@contoso.com")])
    assert isinstance(result.error, ProviderTimeout)
    assert sleeps.calls == []


def test_a_slow_exchange_ends_at_the_deadline(make_rest: Make, exo_rest: FakeExchangeRest) -> None:
    exo_rest.invoke_latency_s = 3.0
    started = time.monotonic()
    with deadline.budget(0.5):
        (result,) = make_rest(retries=0).status([Target.parse("bob@contoso.com")])
    assert isinstance(result.error, ProviderTimeout)
    assert time.monotonic() - started < 2.5


def test_a_token_exchange_refuses_is_an_auth_error_without_the_token(
    make_rest: Make, exo_rest: FakeExchangeRest
) -> None:
    tokens = FakeExoTokens(exo_rest)
    token = tokens.bearer(f"{exo_rest.url}/.default")
    exo_rest.revoke_tokens()
    (result,) = make_rest(tokens=tokens).status([Target.parse("bob@contoso.com")])
    assert isinstance(result.error, AuthError)
    assert "HTTP 401" in result.message and "Exchange.ManageAsApp" in result.message
    assert result.error.before_change
    assert token not in result.message + result.error.detail


def test_a_missing_exchange_role_says_so(make_rest: Make, exo_rest: FakeExchangeRest) -> None:
    exo_rest.roles_missing = True
    (result,) = make_rest().apply(Verb.DISABLE, [Target.tenant()])
    assert isinstance(result.error, AuthError)
    assert "no Exchange role" in result.message


def test_the_token_source_failing_fails_every_target_cleanly(
    make_rest: Make, exo_rest: FakeExchangeRest
) -> None:
    tokens = FakeExoTokens(exo_rest)
    tokens.fail = AuthError("AADSTS700016: the tenant does not know the app")
    results = make_rest(tokens=tokens).status([Target.parse("bob@contoso.com"), Target.tenant()])
    assert all(isinstance(r.error, AuthError) for r in results)
    assert exo_rest.served == []


def _client(exo_rest: FakeExchangeRest, ca_path: str, **kw: object) -> ExoRestClient:
    return ExoRestClient(
        tenant_id=exo_rest.tenant_id,
        exchange_url=exo_rest.url,
        tokens=FakeExoTokens(exo_rest),
        verify_tls=ca_path,
        **kw,  # type: ignore[arg-type]
    )


def test_invoke_follows_next_links_with_the_same_body(
    exo_rest: FakeExchangeRest, exo_rest_org: FakeExchangeOrg, whm_ca_path: str
) -> None:
    _many(exo_rest_org, 23)
    exo_rest.page_size = 10
    client = _client(exo_rest, whm_ca_path)
    try:
        outcome = client.invoke(Command("Get-CASMailbox", {"ResultSize": "Unlimited"}, ("Guid",)))
    finally:
        client.close()
    assert outcome.ok
    assert len(outcome.value) == 28  # 5 from the fixture + 23
    assert {r["Guid"] for r in outcome.value} == {b.guid for b in exo_rest_org.mailboxes}
    assert [s.cmdlets for s in exo_rest.served] == [["Get-CASMailbox"]] * 3


def test_a_next_link_to_another_host_is_refused(
    exo_rest: FakeExchangeRest, whm_ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    exo_rest.page_size = 1
    monkeypatch.setattr(exo_rest, "url", "https://evil.example")  # where nextLink now points
    client = ExoRestClient(
        tenant_id=exo_rest.tenant_id,
        exchange_url=f"https://localhost:{exo_rest._server.server_address[1]}",  # type: ignore[union-attr]
        tokens=_LocalTokens(exo_rest),
        verify_tls=whm_ca_path,
    )
    try:
        outcome = client.invoke(Command("Get-CASMailbox", {"ResultSize": "Unlimited"}, ("Guid",)))
    finally:
        client.close()
    assert isinstance(outcome.failure, ProtocolError)
    assert "another host" in outcome.failure.user_message


class _LocalTokens:
    def __init__(self, fake: FakeExchangeRest) -> None:
        self.token = fake.issue_token()

    def bearer(self, scope: str) -> str:
        return self.token


def test_the_fakes_wire_check_catches_powershell_text(
    exo_rest: FakeExchangeRest, whm_ca_path: str
) -> None:
    """The 'no PowerShell on the wire' guarantee rests on this check; show it can fail."""
    token = exo_rest.issue_token()
    url = f"{exo_rest.url}/adminapi/beta/{exo_rest.tenant_id}/InvokeCommand"
    body = {
        "CmdletInput": {
            "CmdletName": "Set-CASMailbox",
            "Parameters": {
                "Identity": "bob@contoso.com",
                "SmtpClientAuthenticationDisabled": "$true",
            },
        }
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(verify=ssl.create_default_context(cafile=whm_ca_path)) as http:
        reply = http.post(url, content=json.dumps(body), headers=headers)
    assert reply.status_code == 400
    assert any("$true" in v for v in exo_rest.violations)
    exo_rest.violations.clear()  # the fixture asserts none are left


def test_commands_refuse_anything_but_json_values() -> None:
    with pytest.raises(ValueError):
        Command("Invoke-Expression", {"Command": "x"})
    with pytest.raises(ValueError):
        Command("Set-CASMailbox", {"Identity": "", "SmtpClientAuthenticationDisabled": True})
    with pytest.raises(ValueError):
        Command("Get-CASMailbox", {"Filter": "Name -like '*'"})
    body = Command("Set-CASMailbox", {"Identity": "g", "SmtpClientAuthenticationDisabled": None})
    assert json.loads(body.encoded()) == {
        "CmdletInput": {
            "CmdletName": "Set-CASMailbox",
            "Parameters": {"Identity": "g", "SmtpClientAuthenticationDisabled": None},
        }
    }
