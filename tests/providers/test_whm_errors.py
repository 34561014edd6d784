"""WHM failure handling over real HTTP(S): typed errors, retries, TLS and secret hygiene."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.base import TargetResult
from providers.errors import (
    AuthError,
    InvalidTarget,
    ProtocolError,
    ProviderError,
    Rejected,
    Unavailable,
)
from providers.targets import Target, Verb
from providers.whm import WhmProvider, WhmSettings
from providers.whm_client import TlsVerificationFailed, WhmClient
from tests.fakes.whm import DEFAULT_TOKEN as WHM_TOKEN
from tests.fakes.whm import SIMULATED_REASON, FakeWhm

MAILBOX = Target.parse("a@x.test")
ACCOUNT = Target.parse("account:bob")


def _texts(results: list[TargetResult]) -> str:
    """Everything a result could show a person or write to the audit trail."""
    parts = []
    for r in results:
        parts += [r.message, repr(r), str(r.state)]
        if r.error is not None:
            parts += [str(r.error), repr(r.error), r.error.detail]
            cause = r.error.__cause__
            parts += [str(cause), repr(cause)] if cause else []
    return "\n".join(parts)


def test_a_rejected_token_is_an_auth_error_without_body_or_token(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    provider = make_whm(token="wrong-" + WHM_TOKEN)

    results = provider.apply(Verb.DISABLE, [MAILBOX, ACCOUNT])

    assert all(isinstance(r.error, AuthError) for r in results)
    assert {r.message for r in results} == {"WHM rejected the API token"}
    assert "Access denied" not in _texts(results)
    assert WHM_TOKEN not in _texts(results)
    assert len(fake_whm.calls) == 2 and not any(c.auth_ok for c in fake_whm.calls)  # no retry


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_errors_and_the_body_is_not_read(status: int) -> None:
    seen: list[str] = []

    def deny(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(status, json={"metadata": {"result": 1}, "secret": "body text"})

    client = WhmClient(
        url="http://whm.test", username="root", token=WHM_TOKEN, transport=httpx.MockTransport(deny)
    )
    with pytest.raises(AuthError) as caught:
        client.call("getdomainowner", {"domain": "x.test"})
    assert caught.value.user_message == "WHM rejected the API token"
    assert "body text" not in str(caught.value) + caught.value.detail
    assert seen == [f"whm root:{WHM_TOKEN}"]  # sent once, as documented, never retried


def test_the_auth_header_and_api_version_are_sent_on_every_call(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    whm.apply(Verb.HOLD, [MAILBOX, ACCOUNT, Target.tenant()])
    whm.status([MAILBOX, ACCOUNT, Target.tenant()])
    assert len(fake_whm.calls) >= 9
    assert all(c.auth_ok and c.params["api.version"] == "1" for c in fake_whm.calls)
    assert {c.method for c in fake_whm.calls} == {"POST"}


def test_a_403_mid_request_is_an_auth_error(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.fail_next("accountsummary", "auth403")
    [result] = whm.status([ACCOUNT])
    assert isinstance(result.error, AuthError)
    assert result.message == "WHM rejected the API token"


def test_result_0_is_rejected_with_the_reason_as_sent(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.fail_next("hold_outgoing_email", "result0")
    [result] = whm.apply(Verb.HOLD, [ACCOUNT])
    assert isinstance(result.error, Rejected)
    assert result.message == SIMULATED_REASON.format("hold_outgoing_email")
    assert "“hold_outgoing_email”" in result.message  # curly quotes kept
    assert len(fake_whm.calls_to("hold_outgoing_email")) == 1  # a refusal is not retried


def test_uapi_status_0_is_rejected_although_metadata_result_is_1(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    fake_whm.fail_next("Email::hold_outgoing", "uapi_status0")
    [result] = whm.apply(Verb.HOLD, [MAILBOX])
    assert isinstance(result.error, Rejected)
    assert result.message == "Simulated UAPI failure for “a@x.test”."
    assert fake_whm.mailbox_state("a@x.test")["hold_outgoing"] == 0


@pytest.mark.parametrize("kind", ["not_json", "no_metadata"])
def test_replies_that_are_not_the_documented_envelope_are_protocol_errors(
    fake_whm: FakeWhm, whm: WhmProvider, kind: str
) -> None:
    fake_whm.fail_next("getdomainowner", kind)
    [result] = whm.status([MAILBOX])
    assert isinstance(result.error, ProtocolError)
    assert "getdomainowner" in result.message
    assert "cPanel Login" not in _texts([result])


@pytest.mark.parametrize("kind", ["http500", "http503", "timeout"])
def test_transient_failures_are_retried_then_succeed(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider], kind: str
) -> None:
    provider = make_whm(timeout_s=0.3, retries=2)
    fake_whm.fail_next("Email::suspend_outgoing", kind, count=2)

    [result] = provider.apply(Verb.DISABLE, [MAILBOX])

    assert result.ok, result.message
    assert len(fake_whm.calls_to("Email::suspend_outgoing")) == 3
    assert fake_whm.mailbox_state("a@x.test")["suspended_outgoing"] == 1


def test_transient_failures_become_unavailable_when_retries_run_out(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    provider = make_whm(retries=3)
    fake_whm.fail_next("accountsummary", "http503", count=10)

    [result] = provider.status([ACCOUNT])

    assert isinstance(result.error, Unavailable) and result.error.retryable
    assert result.message.endswith("answered HTTP 503 to accountsummary")
    assert len(fake_whm.calls_to("accountsummary")) == 4  # the first try and 3 retries


def test_a_refused_connection_is_unavailable(make_whm: Callable[..., WhmProvider]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = make_whm(url=f"http://127.0.0.1:{port}", retries=1)
    [result] = provider.status([ACCOUNT])
    assert isinstance(result.error, Unavailable)
    assert result.message == "cannot reach WHM at 127.0.0.1 (ConnectError)"


def test_backoff_is_exponential_and_bounded() -> None:
    slept: list[float] = []
    replies = iter([httpx.Response(503)] * 5)
    client = WhmClient(
        url="http://whm.test",
        username="root",
        token=WHM_TOKEN,
        retries=4,
        backoff_s=1.0,
        transport=httpx.MockTransport(lambda request: next(replies)),
        sleep=slept.append,
    )
    with pytest.raises(Unavailable):
        client.call("accountsummary", {"user": "bob"})
    assert len(slept) == 4
    for n, delay in enumerate(slept):  # base * 2**n with jitter in [0.5, 1], capped at 5 s
        assert min(2**n, 5.0) * 0.5 <= delay <= min(2**n, 5.0)


def test_tls_with_the_ca_bundle_path(
    tls_fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider], whm_ca_path: str
) -> None:
    provider = make_whm(tls_fake_whm, verify_tls=whm_ca_path)
    assert tls_fake_whm.url.startswith("https://localhost:")
    [result] = provider.apply(Verb.DISABLE, [MAILBOX])
    assert result.ok, result.message


def test_tls_without_verification(
    tls_fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    [result] = make_whm(tls_fake_whm, verify_tls=False).status([ACCOUNT])
    assert result.ok, result.message


def test_default_tls_verification_rejects_a_self_signed_server(
    tls_fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    provider = WhmProvider(
        WhmSettings(url=tls_fake_whm.url, username="root", token=WHM_TOKEN, retries=3),
        backoff_s=2.0,  # would take seconds if a TLS failure were retried
    )
    started = time.perf_counter()
    [result] = provider.status([ACCOUNT])
    provider.close()

    assert isinstance(result.error, TlsVerificationFailed)
    assert isinstance(result.error, Unavailable)
    assert result.message.startswith("TLS verification failed for WHM at localhost")
    assert time.perf_counter() - started < 1.5
    assert tls_fake_whm.calls == []  # no request got through


def test_a_missing_ca_bundle_is_a_configuration_error(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="cannot load CA bundle"):
        WhmProvider(WhmSettings("https://whm.test:2087", "root", WHM_TOKEN, verify_tls="/no/ca"))


def test_the_token_never_appears_in_settings_provider_or_errors(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    provider = make_whm(timeout_s=0.3, retries=0)
    assert WHM_TOKEN not in repr(provider) + repr(provider._settings) + str(provider._settings)
    for function, kind in [
        ("getdomainowner", "not_json"),
        ("getdomainowner", "no_metadata"),
        ("getdomainowner", "timeout"),
        ("accountsummary", "http500"),
        ("accountsummary", "result0"),
    ]:
        fake_whm.fail_next(function, kind)
    results = provider.status([MAILBOX, ACCOUNT]) + provider.status([MAILBOX, ACCOUNT])
    results += provider.status([Target.parse("x@nowhere.test")])
    assert sum(not r.ok for r in results) >= 5
    assert WHM_TOKEN not in _texts(results)


def test_a_server_echoing_the_token_is_scrubbed() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        reason = "bad header " + request.headers["Authorization"]
        body = {"metadata": {"result": 0, "reason": reason}}
        return httpx.Response(200, json=body)

    client = WhmClient(
        url="http://whm.test", username="root", token=WHM_TOKEN, transport=httpx.MockTransport(echo)
    )
    with pytest.raises(Rejected) as caught:
        client.call("myprivs")
    assert WHM_TOKEN not in caught.value.user_message
    assert caught.value.user_message == "bad header whm root:[redacted]"


def test_user_text_reaches_the_server_intact(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    odd = "x#frag+user^~@x.test"  # "#" and "+" would break a URL built by concatenation
    fake_whm.add_mailbox(odd)
    [result] = whm.apply(Verb.DISABLE, [Target.parse(odd)])
    assert result.ok, result.message
    assert fake_whm.calls_to("Email::suspend_outgoing")[0].params["email"] == odd
    for smuggler in ("x%26user=root@x.test", "x=1@x.test"):  # refused before any call
        with pytest.raises(InvalidTarget):
            Target.parse(smuggler)


def test_privileges_come_from_myprivs(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.privileges = {"acct-summary": 1, "cpanel-api": 1, "all": 0}
    assert whm.privileges() == {"acct-summary": True, "cpanel-api": True, "all": False}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.fixed_dictionaries(
            {}, optional={"result": JSON, "reason": JSON, "command": JSON}
        )
        | JSON,
        "data": st.fixed_dictionaries(
            {}, optional={"uapi": JSON, "user": JSON, "acct": JSON, "tweaksetting": JSON}
        )
        | JSON,
    },
)


@settings(max_examples=150, deadline=None)
@given(body=ENVELOPES | JSON, status=st.sampled_from([200, 200, 200, 302, 401, 404, 502]))
def test_any_reply_becomes_a_result_or_a_typed_error(body: object, status: int) -> None:
    """Whatever WHM sends, the provider answers with per-target results, never a crash."""
    reply = json.dumps(body).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=reply))
    settings_ = WhmSettings("http://whm.test", "root", WHM_TOKEN, retries=0)
    targets = [MAILBOX, ACCOUNT, Target.tenant()]
    with WhmProvider(settings_, transport=transport) as provider:
        for results in (provider.status(targets), provider.apply(Verb.DISABLE, targets)):
            assert [r.target for r in results] == targets
            for r in results:
                assert r.ok or type(r.error) is not ProviderError, r.error
