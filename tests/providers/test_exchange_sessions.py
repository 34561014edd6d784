"""A large batch of mailboxes is spread over ``max_concurrency`` sessions (WinRM commands),
each with its own Connect-ExchangeOnline, the sessions' cmdlets overlapping; small batches and
batches with the org switch stay in one session. Counts only: nothing here is timed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from providers.exchange_sessions import MIN_PER_SESSION, session_chunks
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
    return org


@pytest.fixture
def host(org: FakeExchangeOrg) -> Iterator[FakeWinRMHost]:
    with FakeWinRMHost(org) as host:
        yield host
    assert host.violations == []
    assert host.open_shells == 0


def test_a_large_batch_is_split_over_sessions_one_connect_each(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    targets = [Target.parse(org.add_mailbox(f"bulk{i:03d}@contoso.com").upn) for i in range(61)]
    results = provider_for(host, max_concurrency=2).apply(Verb.DISABLE, targets)
    assert [r.target for r in results] == targets and all(r.ok for r in results)
    assert host.commands == 2
    runs = sorted(org.clock.run_s)
    assert [org.clock.counts(r)["Connect-ExchangeOnline"] for r in runs] == [1, 1]
    assert sorted(org.clock.counts(r)["Set-CASMailbox"] for r in runs) == [30, 31]
    # each session pays its own connect: 2 connects in all, the mailboxes once each
    per_box = 0.3 + 0.4 + 0.3
    expected = 2 * (5.0 + 0.25 + 0.1) + 61 * per_box
    assert org.clock.simulated_s == pytest.approx(expected)


def test_sessions_overlap_their_cmdlets(host: FakeWinRMHost, org: FakeExchangeOrg) -> None:
    """Both sessions must be inside Connect-ExchangeOnline at once to pass the barrier: a
    tenant lock held across a cmdlet's time would serialise them and break it."""
    barrier = threading.Barrier(2)
    org.clock.costs = CmdletCosts(connect=1.0)
    org.clock.sleep = lambda seconds: barrier.wait(timeout=10)
    targets = [Target.parse(org.add_mailbox(f"par{i:02d}@contoso.com").upn) for i in range(50)]
    results = provider_for(host, max_concurrency=2).apply(Verb.DISABLE, targets)
    assert all(r.ok for r in results), results[0].message
    assert not barrier.broken


def test_a_batch_with_the_org_switch_runs_in_one_session_in_order(
    host: FakeWinRMHost, org: FakeExchangeOrg
) -> None:
    boxes = [Target.parse(org.add_mailbox(f"ex{i:02d}@contoso.com").upn) for i in range(60)]
    results = provider_for(host, max_concurrency=4).apply(Verb.DISABLE, [*boxes, Target.tenant()])
    assert all(r.ok for r in results)
    assert host.commands == 1
    cmdlets = [c.cmdlet for c in org.clock.calls]
    assert cmdlets.index("Set-TransportConfig") > max(
        i for i, c in enumerate(cmdlets) if c == "Set-CASMailbox"
    )


def test_small_batches_and_batches_with_the_tenant_stay_in_one_session() -> None:
    boxes = [Target.parse(f"m{i}@contoso.com") for i in range(4 * MIN_PER_SESSION)]
    assert len(session_chunks(boxes[: 2 * MIN_PER_SESSION - 1], 8)) == 1
    assert [len(c) for c in session_chunks(boxes, 8)] == [MIN_PER_SESSION] * 4
    assert [len(c) for c in session_chunks(boxes[:51], 2)] == [26, 25]
    assert session_chunks([*boxes, Target.tenant()], 8) == [[*boxes, Target.tenant()]]
    assert session_chunks(boxes, 1) == [boxes]
