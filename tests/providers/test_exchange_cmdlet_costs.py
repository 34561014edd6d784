"""The fake tenant's cost model charges per cmdlet, in exchange.ps1's order (resolve, change,
read back), and the fake host polls a long command like a real one. Counts and the emulator's
simulated clock only: nothing here is timed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from providers.targets import Target, Verb
from tests.fakes.exchange_costs import CmdletCosts
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.winrm_host import FakeWinRMHost, provider_for

COSTS = CmdletCosts(
    connect=5.0, get_transport=0.25, set_transport=0.5, get_cas=0.3, set_cas=0.4, disconnect=0.1
)


@pytest.fixture
def org() -> FakeExchangeOrg:
    org = FakeExchangeOrg(costs=COSTS)
    org.clock.sleep = lambda seconds: None  # simulated time only
    for i in range(5):
        org.add_mailbox(f"user{i}@contoso.com")
    org.add_mailbox("done@contoso.com", disabled=True)
    return org


@pytest.fixture
def host(org: FakeExchangeOrg) -> Iterator[FakeWinRMHost]:
    with FakeWinRMHost(org) as host:
        yield host
    assert host.violations == []


def _users(n: int = 5) -> list[Target]:
    return [Target.parse(f"user{i}@contoso.com") for i in range(n)]


def test_a_batch_of_five_costs_connect_plus_five_times_resolve_change_read_back(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    results = provider_for(host, max_concurrency=1).apply(Verb.DISABLE, _users())
    assert all(r.ok for r in results)
    (run,) = org.clock.run_s
    assert org.clock.counts(run) == {
        "Connect-ExchangeOnline": 1,
        "Get-TransportConfig": 1,
        "Get-CASMailbox": 10,
        "Set-CASMailbox": 5,
        "Disconnect-ExchangeOnline": 1,
    }
    for target in _users():
        box = org.mailbox(target.name)
        assert org.clock.by_identity(box.upn) == ["Get-CASMailbox"]  # resolution, as sent
        assert org.clock.by_identity(box.guid) == ["Set-CASMailbox", "Get-CASMailbox"]
    expected = 5.0 + 0.25 + 5 * (0.3 + 0.4 + 0.3) + 0.1
    assert org.clock.run_s[run] == pytest.approx(expected)
    assert org.clock.simulated_s == pytest.approx(expected)


def test_a_mailbox_already_in_the_wanted_state_costs_one_lookup(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    (result,) = provider_for(host).apply(Verb.DISABLE, [Target.parse("done@contoso.com")])
    assert result.ok
    box = org.mailbox("done@contoso.com")
    assert org.clock.by_identity(box.upn) == ["Get-CASMailbox"]
    assert org.clock.by_identity(box.guid) == []
    assert org.clock.counts()["Set-CASMailbox"] == 0


def test_status_and_an_unknown_mailbox_cost_one_lookup_each(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    ghost = Target.parse("ghost@contoso.com")
    results = provider_for(host).status([*_users(2), ghost])
    assert [r.ok for r in results] == [True, True, False]
    assert org.clock.by_identity("ghost@contoso.com") == ["Get-CASMailbox"]
    counts = org.clock.counts()
    assert counts["Get-CASMailbox"] == 3 and counts["Set-CASMailbox"] == 0
    assert counts["Connect-ExchangeOnline"] == 1 and counts["Get-TransportConfig"] == 1


def test_the_org_switch_costs_a_set_and_a_read_back(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    (result,) = provider_for(host).apply(Verb.DISABLE, [Target.tenant()])
    assert result.ok
    (run,) = org.clock.run_s
    assert [c.cmdlet for c in org.clock.calls] == [
        "Connect-ExchangeOnline",
        "Get-TransportConfig",
        "Set-TransportConfig",
        "Get-TransportConfig",
        "Disconnect-ExchangeOnline",
    ]
    assert org.clock.run_s[run] == pytest.approx(5.0 + 0.25 + 0.5 + 0.25 + 0.1)


def test_a_failed_sign_in_costs_the_connect_and_nothing_else(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    org.consented = False
    results = provider_for(host).apply(Verb.DISABLE, _users())
    assert not any(r.ok for r in results)
    assert [c.cmdlet for c in org.clock.calls] == ["Connect-ExchangeOnline"]


def test_a_command_longer_than_the_operation_timeout_is_polled(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    org.clock.costs = CmdletCosts(connect=2.5)
    org.clock.sleep = time.sleep  # real waiting: the host must poll
    provider = provider_for(host, operation_timeout_s=1, read_timeout_s=2)
    (result,) = provider.apply(Verb.DISABLE, _users(1))
    assert result.ok, result.message
    assert host.actions["Receive"] >= 3  # answered "timed out, ask again" at least twice
