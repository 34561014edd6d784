"""Back ends that trickle bytes: every call ends at its wall-clock deadline with a typed error.

A per-read timeout never fires when each byte arrives inside it; these fakes send one byte
every 0.5 s against a 2 s budget (the fault issue 13 found at one byte every 5 s vs 15 s).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from providers import deadline
from providers.errors import ProviderTimeout
from providers.targets import Target, Verb
from providers.whm import REQUEST_BUDGET_CALLS, WhmProvider
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.whm import DEFAULT_TOKEN as WHM_TOKEN
from tests.fakes.whm import FakeWhm
from tests.fakes.winrm_host import FakeWinRMHost, provider_for

ACCOUNT = Target.parse("account:bob")
MAILBOX = Target.parse("a@x.test")
BOB = Target.parse("bob@contoso.com")


def test_whm_trickling_one_byte_at_a_time_is_a_provider_timeout(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    provider = make_whm(timeout_s=2.0, retries=0)
    fake_whm.fail_next("accountsummary", "trickle")

    [result] = provider.status([ACCOUNT])

    assert isinstance(result.error, ProviderTimeout)
    assert result.error.kind == "timeout"
    assert result.message == "WHM at 127.0.0.1 did not answer accountsummary within 2s"
    assert "Traceback" not in result.message and WHM_TOKEN not in result.message
    assert len(fake_whm.calls_to("accountsummary")) == 1


def test_a_timed_out_call_is_retried_and_the_retry_can_succeed(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    provider = make_whm(timeout_s=1.0, retries=1)
    fake_whm.fail_next("accountsummary", "trickle")

    [result] = provider.status([ACCOUNT])

    assert result.ok, result.message
    assert len(fake_whm.calls_to("accountsummary")) == 2


def test_the_callers_deadline_stops_retries_of_a_trickling_whm(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    """A job's budget caps the whole request: no retry starts once it is spent."""
    provider = make_whm(timeout_s=2.0, retries=3)
    fake_whm.fail_next("Email::suspend_outgoing", "trickle", count=10)

    with deadline.budget(1.5):
        [result] = provider.apply(Verb.DISABLE, [MAILBOX])

    assert isinstance(result.error, ProviderTimeout)
    assert "before the request's time ran out" in result.message
    assert len(fake_whm.calls_to("Email::suspend_outgoing")) == 1
    assert fake_whm.mailbox_state("a@x.test")["suspended_outgoing"] == 0


def test_a_request_shares_a_budget_of_a_few_calls_retries_included(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    """Without a caller's deadline (a status read from Slack) retries still end: the request
    gets REQUEST_BUDGET_CALLS calls' worth of time, not retries x timeout."""
    provider = make_whm(timeout_s=1.0, retries=20)
    fake_whm.fail_next("accountsummary", "trickle", count=30)

    [result] = provider.status([ACCOUNT])

    assert isinstance(result.error, ProviderTimeout)
    assert "before the request's time ran out" in result.message
    assert len(fake_whm.calls_to("accountsummary")) <= REQUEST_BUDGET_CALLS + 1


def test_the_callers_deadline_reaches_the_pool_threads_of_a_bulk_request(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    provider = make_whm(timeout_s=30.0, retries=0)
    fake_whm.fail_next("Email::list_pops_with_disk", "trickle", count=2)

    with deadline.budget(1.5):
        results = provider.status([MAILBOX, Target.parse("b@x.test")])

    assert [type(r.error) for r in results] == [ProviderTimeout, ProviderTimeout]


@pytest.fixture
def trickle_host() -> Iterator[FakeWinRMHost]:
    org = FakeExchangeOrg()
    org.add_mailbox("bob@contoso.com")
    with FakeWinRMHost(org) as host:
        yield host


def test_winrm_trickling_one_byte_at_a_time_is_a_provider_timeout(
    trickle_host: FakeWinRMHost,
) -> None:
    trickle_host.faults.trickle_on = "Receive"
    trickle_host.faults.trickle_s = 0.5
    provider = provider_for(trickle_host, read_timeout_s=2, operation_timeout_s=1)

    [result] = provider.status([BOB])

    assert isinstance(result.error, ProviderTimeout)
    assert result.message == "The Windows management host did not answer within 2 s."
    assert trickle_host.faults.trickled >= 1


def test_winrm_honours_the_callers_deadline(trickle_host: FakeWinRMHost) -> None:
    trickle_host.faults.trickle_on = "Receive"
    trickle_host.faults.trickle_s = 0.5
    provider = provider_for(trickle_host, read_timeout_s=30, operation_timeout_s=20)

    with deadline.budget(1.5):
        [result] = provider.apply(Verb.DISABLE, [BOB])

    assert isinstance(result.error, ProviderTimeout)
    assert "time ran out" in result.message


def test_winrm_over_https_trickling_is_cut_too(tmp_path: Path) -> None:
    """The production path: TLS sockets are registered and shut down like plain ones."""
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    org = FakeExchangeOrg()
    org.add_mailbox("bob@contoso.com")
    with FakeWinRMHost(org, tls=server_ctx) as host:
        host.faults.trickle_on = "Receive"
        provider = provider_for(
            host, read_timeout_s=2, operation_timeout_s=1, verify_tls=str(bundle)
        )

        [result] = provider.status([BOB])

    assert isinstance(result.error, ProviderTimeout)
    assert result.message == "The Windows management host did not answer within 2 s."
