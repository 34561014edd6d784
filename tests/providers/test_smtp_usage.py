"""Who still uses SMTP AUTH: Graph sign-ins (loopback Graph) joined with each mailbox's own
setting read through the real ExchangeProvider (loopback WinRM host)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from providers.errors import AuthError
from providers.microsoft.graph_signins import GraphSignIns, SignIn
from providers.microsoft.smtp_usage import Impact, aggregate, read_usage
from providers.targets import Target
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.graph_signins import FakeGraph
from tests.fakes.winrm_host import FakeWinRMHost, provider_for
from tests.providers.test_graph_signins import FakeGraphTokens

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def org() -> FakeExchangeOrg:
    org = FakeExchangeOrg(org_disabled=False)
    org.add_mailbox("scanner@contoso.com")  # $null: follows the org, would break
    org.add_mailbox("erp@contoso.com", disabled=False)  # its own exception already
    org.add_mailbox("old@contoso.com", disabled=True)  # blocked on its own
    return org


@pytest.fixture
def graph(tmp_path) -> Iterator[tuple[FakeGraph, GraphSignIns]]:
    with FakeGraph() as fake:
        ca = fake.ca_file(str(tmp_path / "ca.pem"))
        tokens = FakeGraphTokens(fake, ca)
        client = GraphSignIns(graph_url=fake.url, tokens=tokens, verify=ca)
        yield fake, client
        client.close()


def _seed(fake: FakeGraph) -> None:
    for i in range(6):
        fake.add("Scanner@contoso.com", NOW - timedelta(hours=i), "203.0.113.7")
    fake.add("scanner@contoso.com", NOW - timedelta(days=2), "203.0.113.8")
    fake.add("erp@contoso.com", NOW - timedelta(days=1), "198.51.100.4")
    fake.add("old@contoso.com", NOW - timedelta(days=6), "198.51.100.5")
    fake.add("ghost@contoso.com", NOW - timedelta(days=3), "198.51.100.6")  # no mailbox


def test_aggregate_is_one_row_per_user_with_count_last_seen_and_ips() -> None:
    rows = aggregate(
        [
            SignIn("a@x.test", NOW - timedelta(hours=2), "203.0.113.1"),
            SignIn("a@x.test", NOW - timedelta(hours=1), "203.0.113.2"),
            SignIn("a@x.test", NOW - timedelta(hours=3), "203.0.113.2"),
            SignIn("b@x.test", NOW, "203.0.113.3"),
        ]
    )
    assert [(r.user, r.sign_ins) for r in rows] == [("a@x.test", 3), ("b@x.test", 1)]
    assert rows[0].last_seen == NOW - timedelta(hours=1)
    assert rows[0].addresses == ("203.0.113.2", "203.0.113.1")


def test_each_mailbox_own_setting_decides_what_an_org_wide_disable_does(org, graph) -> None:
    fake, client = graph
    _seed(fake)
    with FakeWinRMHost(org) as host:
        report = read_usage(client, provider_for(host), NOW - timedelta(days=7))
        assert host.commands == 1  # the organisation and every mailbox in one WinRM command
    impacts = {r.usage.user: r.impact for r in report.rows}
    assert impacts == {
        "scanner@contoso.com": Impact.BREAKS,
        "ghost@contoso.com": Impact.UNKNOWN,
        "erp@contoso.com": Impact.STAYS,
        "old@contoso.com": Impact.BLOCKED,
    }
    assert [r.usage.user for r in report.rows][:2] == ["scanner@contoso.com", "ghost@contoso.com"]
    scanner = report.rows[0]
    assert scanner.usage.sign_ins == 7 and scanner.usage.addresses[0] == "203.0.113.7"
    assert report.org_disabled is False
    assert report.exceptions == [
        Target.parse("scanner@contoso.com"),
        Target.parse("erp@contoso.com"),
    ]
    assert "ghost@contoso.com" in report.rows[1].problem  # Exchange's not-found, worded


def test_when_the_org_is_off_already_nobody_new_breaks(org, graph) -> None:
    fake, client = graph
    _seed(fake)
    org.org_disabled = True
    with FakeWinRMHost(org) as host:
        report = read_usage(client, provider_for(host), NOW - timedelta(days=7))
    assert {r.usage.user: r.impact for r in report.rows}["scanner@contoso.com"] is Impact.ORG_OFF
    assert report.with_impact(Impact.BREAKS) == []


def test_mailboxes_the_tenant_may_not_touch_are_not_exceptions(org, graph) -> None:
    fake, client = graph
    _seed(fake)
    with FakeWinRMHost(org) as host:
        report = read_usage(
            client,
            provider_for(host),
            NOW - timedelta(days=7),
            refuse=lambda t: "outside the tenant's domains" if t.name.startswith("erp") else None,
        )
    erp = next(r for r in report.rows if r.usage.user == "erp@contoso.com")
    assert erp.impact is Impact.UNKNOWN and erp.problem == "outside the tenant's domains"
    assert report.exceptions == [Target.parse("scanner@contoso.com")]


def test_a_graph_refusal_is_raised_before_exchange_is_asked(org, graph) -> None:
    fake, client = graph
    fake.deny_audit = True
    with FakeWinRMHost(org) as host:
        with pytest.raises(AuthError):
            read_usage(client, provider_for(host), NOW - timedelta(days=7))
        assert host.commands == 0


def test_the_rest_transport_reads_the_same_settings(exo_rest_org, make_rest, graph) -> None:
    """The same report through ExchangeRestProvider (InvokeCommand/$batch, no Windows host):
    bob follows the org (breaks), alice has her own $false (stays), carol $true (blocked)."""
    fake, client = graph
    fake.add("bob@contoso.com", NOW - timedelta(hours=2), "203.0.113.20")
    fake.add("alice@contoso.com", NOW - timedelta(hours=3), "203.0.113.21")
    fake.add("carol@contoso.com", NOW - timedelta(hours=4), "203.0.113.22")
    report = read_usage(client, make_rest(), NOW - timedelta(days=7))
    assert {r.usage.user: r.impact for r in report.rows} == {
        "bob@contoso.com": Impact.BREAKS,
        "alice@contoso.com": Impact.STAYS,
        "carol@contoso.com": Impact.BLOCKED,
    }
    assert report.org_disabled is False
    assert report.exceptions == [Target.parse("bob@contoso.com"), Target.parse("alice@contoso.com")]
