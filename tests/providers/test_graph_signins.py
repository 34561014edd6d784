"""The Graph sign-in log client against the loopback Graph over HTTPS: paging, the exact
filter, the window, throttling and the refusals worded by cause."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from providers.errors import AuthError, ProtocolError, Rejected, Unavailable
from providers.microsoft.graph_signins import GraphSignIns, odata_string, smtp_auth_filter
from tests.fakes.graph_signins import FakeGraph

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class FakeGraphTokens:
    """An AccessTokens that asks the fake's /token endpoint (no msal needed here)."""

    def __init__(self, graph: FakeGraph, ca_path: str) -> None:
        self.graph, self.ca_path, self.scopes = graph, ca_path, []

    def bearer(self, scope: str) -> str:
        self.scopes.append(scope)
        tls = ssl.create_default_context(cafile=self.ca_path)
        reply = httpx.post(f"{self.graph.url}/token", data={"scope": scope}, verify=tls)
        return reply.json()["access_token"]


@pytest.fixture
def graph(tmp_path) -> Iterator[tuple[FakeGraph, str]]:
    with FakeGraph() as fake:
        yield fake, fake.ca_file(str(tmp_path / "graph-ca.pem"))


_MADE: list[GraphSignIns] = []


@pytest.fixture(autouse=True)
def _closed() -> Iterator[None]:
    """Every client a test made is closed after it (its pooled TLS connections)."""
    yield
    while _MADE:
        _MADE.pop().close()


def _client(graph: tuple[FakeGraph, str], **kw) -> GraphSignIns:
    fake, ca = graph
    client = GraphSignIns(
        graph_url=fake.url, tokens=FakeGraphTokens(fake, ca), verify=ca, sleep=lambda s: None, **kw
    )
    _MADE.append(client)
    return client


def test_the_filter_is_exact_and_holds_only_constants_and_the_computed_window() -> None:
    since = datetime(2026, 11, 26, 12, 0, 5, 123456, tzinfo=UTC)
    assert smtp_auth_filter(since) == (
        "clientAppUsed eq 'Authenticated SMTP' and createdDateTime ge 2026-11-26T12:00:05Z "
        "and status/errorCode eq 0"
    )
    local = since.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Zurich"))
    assert smtp_auth_filter(local) == smtp_auth_filter(since)  # always said in UTC
    with pytest.raises(ValueError):
        smtp_auth_filter(datetime(2026, 11, 26))  # naive: refused
    assert odata_string("O'Brien") == "'O''Brien'"


def test_every_page_is_read_and_the_window_bounds_what_comes_back(graph) -> None:
    fake, _ = graph
    for i in range(25):
        fake.add(f"scanner{i % 5}@contoso.example", NOW - timedelta(hours=i), f"203.0.113.{i}")
    fake.add("old@contoso.example", NOW - timedelta(days=8), "198.51.100.1")  # outside 7d
    fake.add("typo@contoso.example", NOW - timedelta(hours=1), "198.51.100.2", error_code=50126)
    fake.add("imap@contoso.example", NOW - timedelta(hours=1), "198.51.100.3", client_app="IMAP4")
    client = _client(graph, page_size=10)
    log = client.smtp_auth_sign_ins(NOW - timedelta(days=7))
    assert log.pages == 3 and not log.truncated
    assert len(log.sign_ins) == 25
    assert {s.user_principal_name for s in log.sign_ins} == {
        f"scanner{i}@contoso.example" for i in range(5)
    }
    requests = fake.sign_in_requests()
    assert [r.status for r in requests] == [200, 200, 200]
    first, *later = requests
    assert first.params == {
        "$filter": smtp_auth_filter(NOW - timedelta(days=7)),
        "$top": "10",
    }
    assert all("$skiptoken" in r.params for r in later)
    assert client._tokens.scopes == [f"{fake.url}/.default"]  # one token, Graph's own scope


def test_the_page_cap_says_the_read_was_cut_short(graph) -> None:
    fake, _ = graph
    for i in range(5):
        fake.add("a@contoso.example", NOW - timedelta(minutes=i), "203.0.113.9")
    log = _client(graph, page_size=2, max_pages=2).smtp_auth_sign_ins(NOW - timedelta(days=1))
    assert log.truncated and log.pages == 2 and len(log.sign_ins) == 4


def test_a_missing_permission_is_said_plainly_by_403_and_by_the_token(graph) -> None:
    fake, _ = graph
    fake.deny_audit = True
    with pytest.raises(AuthError) as denied:
        _client(graph).smtp_auth_sign_ins(NOW - timedelta(days=7))
    assert "AuditLog.Read.All" in denied.value.user_message
    assert "admin consent" in denied.value.user_message
    assert "Authorization_RequestDenied" in denied.value.detail
    fake.deny_audit = False
    asked = len(fake.sign_in_requests())
    fake.roles = ["Directory.Read.All"]  # the token itself shows the permission is missing
    with pytest.raises(AuthError) as lacking:
        _client(graph).smtp_auth_sign_ins(NOW - timedelta(days=7))
    assert "AuditLog.Read.All" in lacking.value.user_message
    assert len(fake.sign_in_requests()) == asked  # Graph was not even asked


def test_a_tenant_without_entra_premium_is_told_what_works_instead(graph) -> None:
    fake, _ = graph
    fake.no_premium = True
    with pytest.raises(Rejected) as refused:
        _client(graph).smtp_auth_sign_ins(NOW - timedelta(days=7))
    assert "Entra ID P1 or P2" in refused.value.user_message
    assert "SMTP AUTH clients" in refused.value.user_message


def test_throttling_waits_for_retry_after_a_bounded_number_of_times(graph) -> None:
    fake, ca = graph
    fake.add("a@contoso.example", NOW - timedelta(hours=1), "203.0.113.9")
    waits: list[float] = []
    fake.throttle, fake.retry_after = 2, "3"
    client = GraphSignIns(
        graph_url=fake.url, tokens=FakeGraphTokens(fake, ca), verify=ca, sleep=waits.append
    )
    _MADE.append(client)
    assert len(client.smtp_auth_sign_ins(NOW - timedelta(days=1)).sign_ins) == 1
    assert len(waits) == 2 and all(3 <= w < 3.3 for w in waits)
    fake.throttle = 10
    with pytest.raises(Unavailable) as busy:
        client.smtp_auth_sign_ins(NOW - timedelta(days=1))
    assert "HTTP 429" in busy.value.user_message and len(waits) == 5  # 3 retries, then said
    fake.throttle, fake.retry_after = 1, "600"  # longer than anyone waits for an answer
    with pytest.raises(Unavailable):
        client.smtp_auth_sign_ins(NOW - timedelta(days=1))
    assert len(waits) == 5


def test_a_next_link_to_another_host_is_not_followed(graph) -> None:
    fake, ca = graph

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "127.0.0.1"
        body = {"value": [], "@odata.nextLink": "https://evil.example/v1.0/auditLogs/signIns?x=1"}
        return httpx.Response(200, json=body)

    client = GraphSignIns(
        graph_url=fake.url,
        tokens=FakeGraphTokens(fake, ca),
        verify=ca,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(ProtocolError) as elsewhere:
        client.smtp_auth_sign_ins(NOW - timedelta(days=1))
    assert "evil.example" in elsewhere.value.detail


def test_an_unknown_token_is_an_auth_error_and_the_url_must_be_https(graph) -> None:
    fake, ca = graph

    class Stranger:
        def bearer(self, scope: str) -> str:
            return "not-a-token-graph-issued"

    with pytest.raises(AuthError) as rejected:
        GraphSignIns(graph_url=fake.url, tokens=Stranger(), verify=ca).smtp_auth_sign_ins(NOW)
    assert "rejected the app's access token" in rejected.value.user_message
    with pytest.raises(ValueError):
        GraphSignIns(graph_url="http://graph.example", tokens=Stranger())
    with pytest.raises(ValueError):
        GraphSignIns(graph_url=fake.url, tokens=Stranger(), verify="")
    with pytest.raises(AuthError):  # an unverified connection still needs a valid token
        GraphSignIns(graph_url=fake.url, tokens=Stranger(), verify=False).smtp_auth_sign_ins(NOW)


def test_the_server_certificate_is_verified_against_the_configured_bundle(graph) -> None:
    fake, ca = graph
    client = GraphSignIns(graph_url=fake.url, tokens=FakeGraphTokens(fake, ca), verify=True)
    _MADE.append(client)
    with pytest.raises(Unavailable):  # the system store does not know the test CA
        client.smtp_auth_sign_ins(NOW)
    assert fake.sign_in_requests() == []
