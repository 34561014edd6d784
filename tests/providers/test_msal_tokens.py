"""MsalTokens: the real msal against the loopback Entra ID endpoint (tests/fakes/ms_login.py),
over HTTPS with its own CA, pointed at it by ``authority_host`` as a sovereign-cloud user
would point it at login.microsoftonline.us."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
import trustme

from providers import deadline
from providers.errors import AuthError, ProviderTimeout, Unavailable
from providers.microsoft import AccessTokens
from providers.microsoft.certificate import (
    CertificateProblem,
    ClientCertificate,
    load_certificate,
)
from providers.microsoft.msal_tokens import MsalTokens, SignInRefused
from tests.fakes.app_certs import AppCert, make_app_cert
from tests.fakes.ms_login import ASSERTION_TYPE, EXCHANGE_ROLE, FakeLogin
from tests.fakes.whm import server_tls

APP_ID = "11111111-2222-3333-4444-555555555555"
EXCHANGE = "https://outlook.office365.com"
EXCHANGE_SCOPE = f"{EXCHANGE}/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
REFUSED = "Microsoft Entra ID refused the app-only sign-in: "


@pytest.fixture(scope="module")
def login_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_path(login_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("login-ca") / "ca.pem"
    login_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def app_cert() -> AppCert:
    return make_app_cert("smtp-bot-app")


@pytest.fixture
def certificate(app_cert: AppCert, tmp_path: Path) -> ClientCertificate:
    return load_certificate(app_cert.write_pem(tmp_path / "app.pem"))


@pytest.fixture
def login(login_ca: trustme.CA, app_cert: AppCert) -> Iterator[FakeLogin]:
    with FakeLogin(tls=server_tls(login_ca)) as fake:
        fake.register_app(APP_ID, app_cert.cert_pem, {EXCHANGE: [EXCHANGE_ROLE]})
        yield fake


def tokens_for(
    login: FakeLogin,
    certificate: ClientCertificate,
    ca_path: str,
    *,
    tenant: str = "contoso.onmicrosoft.com",
    app_id: str = APP_ID,
) -> MsalTokens:
    return MsalTokens(
        tenant_id=tenant,
        app_id=app_id,
        certificate=certificate,
        authority_host=login.url,
        verify_tls=ca_path,
        timeout_s=5,
    )


# --- a token, and the cache ------------------------------------------------------------------


def test_a_token_is_acquired_with_a_certificate_signed_assertion(
    login: FakeLogin, certificate: ClientCertificate, ca_path: str
) -> None:
    tokens = tokens_for(login, certificate, ca_path)
    assert isinstance(tokens, AccessTokens)
    token = tokens.bearer(EXCHANGE_SCOPE)
    claims = login.verify(token, EXCHANGE)  # issued by the fake, for Exchange Online
    assert claims["roles"] == [EXCHANGE_ROLE]
    assert claims["appid"] == APP_ID and claims["tid"] == login.tenant_id
    (request,) = login.requests
    assert request.code is None and request.assertion_alg == "PS256"  # SHA-256 thumbprint
    assert request.scope == EXCHANGE_SCOPE
    assert login.discoveries == ["contoso.onmicrosoft.com"]  # the authority from config


def test_a_token_is_cached_until_shortly_before_it_expires(
    login: FakeLogin, certificate: ClientCertificate, ca_path: str
) -> None:
    tokens = tokens_for(login, certificate, ca_path)
    first = tokens.bearer(EXCHANGE_SCOPE)
    assert all(tokens.bearer(EXCHANGE_SCOPE) == first for _ in range(20))
    assert login.token_requests == 1
    tokens.bearer(GRAPH_SCOPE)  # another resource: its own token
    tokens.bearer(GRAPH_SCOPE)
    assert login.token_requests == 2


def test_a_token_near_its_expiry_is_not_reused(
    login: FakeLogin, certificate: ClientCertificate, ca_path: str
) -> None:
    login.expires_in = 240  # under msal's five-minute margin: stale as soon as it arrives
    tokens = tokens_for(login, certificate, ca_path)
    tokens.bearer(EXCHANGE_SCOPE)
    tokens.bearer(EXCHANGE_SCOPE)
    assert login.token_requests == 2


def test_a_burst_of_first_calls_makes_one_token_request(
    login: FakeLogin, certificate: ClientCertificate, ca_path: str
) -> None:
    tokens = tokens_for(login, certificate, ca_path)
    got: list[str] = []
    start = threading.Barrier(8)

    def call() -> None:
        start.wait()
        got.append(tokens.bearer(EXCHANGE_SCOPE))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(got) == 8 and len(set(got)) == 1
    assert login.token_requests == 1


def test_pkcs12_with_a_password_signs_in(
    login: FakeLogin, app_cert: AppCert, ca_path: str, tmp_path: Path
) -> None:
    pfx = app_cert.write_pfx(tmp_path / "app.pfx", "Pfx-pa55")
    tokens = tokens_for(login, load_certificate(pfx, "Pfx-pa55"), ca_path)
    assert login.verify(tokens.bearer(EXCHANGE_SCOPE), EXCHANGE)


def test_the_token_and_the_key_are_never_logged(
    login: FakeLogin,
    certificate: ClientCertificate,
    ca_path: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = tokens_for(login, certificate, ca_path)
    token = tokens.bearer(EXCHANGE_SCOPE)
    key_line = certificate.private_key_pem.splitlines()[1]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # msal did log at DEBUG: the check below looked at something
    assert token not in logged and token.split(".")[1] not in logged
    assert key_line not in logged
    assert token not in repr(tokens) and key_line not in repr(certificate)


# --- refusals, worded by their cause ----------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "code", "cause"),
    [
        (
            {"app_id": "99999999-2222-3333-4444-555555555555"},
            700016,
            "the tenant does not know the app: check `app_id`",
        ),
        (
            {"tenant": "fabrikam.onmicrosoft.com"},
            90002,
            "Microsoft does not know the organisation: check `tenant_id` (the tenant's GUID",
        ),
        ({"refuse": 65001}, 65001, "admin consent is missing: grant Exchange.ManageAsApp"),
        ({"refuse": 7000229}, 7000229, "the app has no enterprise application in this tenant"),
        ({"refuse": 7000112}, 7000112, "the app is disabled in this tenant"),
        ({"refuse": 700024}, 700024, "the sign-in was outside its valid time: check this"),
        ({"refuse": 500011}, 500011, "the tenant has no Exchange Online"),
        ({"refuse": 53003}, 53003, "a Conditional Access policy blocks the app's sign-in"),
    ],
    ids=[
        "app-unknown",
        "tenant-unknown",
        "consent",
        "no-service-principal",
        "disabled",
        "clock",
        "no-exchange",
        "conditional-access",
    ],
)
def test_each_refusal_is_worded_by_its_cause_and_keeps_entras_reason(
    login: FakeLogin,
    certificate: ClientCertificate,
    ca_path: str,
    setup: dict[str, object],
    code: int,
    cause: str,
) -> None:
    login.refuse = setup.pop("refuse", None)  # type: ignore[assignment]
    tokens = tokens_for(login, certificate, ca_path, **setup)  # type: ignore[arg-type]
    with pytest.raises(SignInRefused) as err:
        tokens.bearer(EXCHANGE_SCOPE)
    assert err.value.user_message.startswith(REFUSED + cause)
    assert err.value.before_change and err.value.aadsts == code
    assert isinstance(err.value, AuthError)
    assert f"AADSTS{code}" in err.value.detail and "AADSTS" not in err.value.user_message


def test_an_assertion_signed_by_another_certificate_is_refused(
    login: FakeLogin, ca_path: str, tmp_path: Path
) -> None:
    other = load_certificate(make_app_cert("not-registered").write_pem(tmp_path / "other.pem"))
    with pytest.raises(SignInRefused) as err:
        tokens_for(login, other, ca_path).bearer(EXCHANGE_SCOPE)
    assert err.value.aadsts == 700027
    assert err.value.user_message == (
        REFUSED + "the certificate is not registered on the app: upload its public key to the "
        "app registration (Certificates & secrets)."
    )
    assert [r.code for r in login.requests] == [700027]


# --- the fake checks what Entra ID checks (so the tests above can fail) ------------------------


def _post_assertion(login: FakeLogin, ca_path: str, assertion: str) -> dict[str, object]:
    reply = requests.post(
        login.token_endpoint(),
        data={
            "grant_type": "client_credentials",
            "client_id": APP_ID,
            "scope": EXCHANGE_SCOPE,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        verify=ca_path,
        timeout=5,
    )
    body = reply.json()
    body["status"] = reply.status_code
    return body


def _assertion(login: FakeLogin, signer: AppCert, named: AppCert, **claims: object) -> str:
    """A client assertion naming ``named``'s thumbprint, signed with ``signer``'s key."""
    now = int(time.time())
    payload = {
        "aud": login.token_endpoint(),
        "iss": APP_ID,
        "sub": APP_ID,
        "exp": now + 600,
        "iat": now,
        "jti": "j-1",
    } | claims
    header = {"x5t#S256": _thumb(named)}
    return jwt.encode(payload, signer.key, algorithm="PS256", headers=header)


def _thumb(cert: AppCert) -> str:
    import base64

    from cryptography.hazmat.primitives import hashes

    digest = cert.cert.fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_the_fake_accepts_a_well_formed_assertion(
    login: FakeLogin, app_cert: AppCert, ca_path: str
) -> None:
    body = _post_assertion(login, ca_path, _assertion(login, app_cert, app_cert))
    assert body["status"] == 200 and body["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("claims", "forged", "code"),
    [
        ({}, True, 700027),  # names the registered certificate, signed with another key
        ({"aud": "https://login.example/other/oauth2/v2.0/token"}, False, 50027),
        ({"exp": int(time.time()) - 60}, False, 700024),
        ({"sub": "someone-else"}, False, 50048),
        (
            {
                "iss": "22222222-2222-3333-4444-555555555555",
                "sub": "22222222-2222-3333-4444-555555555555",
            },
            False,
            50027,
        ),
    ],
    ids=["forged-signature", "wrong-audience", "expired", "sub-not-iss", "another-app"],
)
def test_the_fake_refuses_what_entra_refuses(
    login: FakeLogin,
    app_cert: AppCert,
    ca_path: str,
    claims: dict[str, object],
    forged: bool,
    code: int,
) -> None:
    signer = make_app_cert("forger") if forged else app_cert
    body = _post_assertion(login, ca_path, _assertion(login, signer, app_cert, **claims))
    assert body["error_codes"] == [code]
    assert str(body["error_description"]).startswith(f"AADSTS{code}:")


# --- the login endpoint down, slow or untrusted ------------------------------------------------


def test_a_transient_refusal_is_unavailable(
    login: FakeLogin, certificate: ClientCertificate, ca_path: str
) -> None:
    login.refuse = 90033  # HTTP 503 temporarily_unavailable
    with pytest.raises(Unavailable) as err:
        tokens_for(login, certificate, ca_path).bearer(EXCHANGE_SCOPE)
    assert err.value.retryable and err.value.before_change
    assert "try again" in err.value.user_message


def test_an_unreachable_login_endpoint_is_unavailable_and_recovers(
    login: FakeLogin, certificate: ClientCertificate, ca_path: str
) -> None:
    url = login.url
    login.stop()
    tokens = MsalTokens(
        tenant_id="contoso.onmicrosoft.com",
        app_id=APP_ID,
        certificate=certificate,
        authority_host=url,
        verify_tls=ca_path,
        timeout_s=2,
    )
    with pytest.raises(Unavailable) as err:
        tokens.bearer(EXCHANGE_SCOPE)
    assert err.value.user_message.startswith("The sign-in endpoint localhost:")
    assert "could not be reached" in err.value.user_message and err.value.before_change


def test_tls_trust_is_the_tenants_own_not_the_environments(
    login: FakeLogin,
    certificate: ClientCertificate,
    ca_path: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # verify_tls: true (public CAs) must not be widened by REQUESTS_CA_BUNDLE ...
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_path)
    strict = MsalTokens(
        tenant_id="contoso.onmicrosoft.com",
        app_id=APP_ID,
        certificate=certificate,
        authority_host=login.url,
        verify_tls=True,
        timeout_s=5,
    )
    with pytest.raises(Unavailable) as err:
        strict.bearer(EXCHANGE_SCOPE)
    assert "TLS verification of the sign-in endpoint" in err.value.user_message
    # ... and a tenant's CA bundle is not replaced by it either
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    assert tokens_for(login, certificate, ca_path).bearer(EXCHANGE_SCOPE)


def test_a_spent_deadline_is_a_timeout_before_anything_is_sent(
    login: FakeLogin, certificate: ClientCertificate, ca_path: str
) -> None:
    tokens = tokens_for(login, certificate, ca_path)
    with deadline.budget(0), pytest.raises(ProviderTimeout):
        tokens.bearer(EXCHANGE_SCOPE)
    assert login.discoveries == [] and login.token_requests == 0


def test_a_certificate_that_went_bad_since_start_is_an_auth_error(
    login: FakeLogin, ca_path: str, tmp_path: Path
) -> None:
    gone = tmp_path / "rotated-away.pem"

    def load() -> ClientCertificate:
        return load_certificate(gone)

    tokens = MsalTokens(
        tenant_id="contoso.onmicrosoft.com",
        app_id=APP_ID,
        certificate=load,
        authority_host=login.url,
        verify_tls=ca_path,
    )
    with pytest.raises(AuthError) as err:
        tokens.bearer(EXCHANGE_SCOPE)
    assert err.value.user_message.startswith("The app's certificate cannot be used: ")
    assert "no such file" in err.value.user_message and err.value.before_change
    assert login.token_requests == 0


def test_certificate_problems_name_the_file_not_the_password(tmp_path: Path) -> None:
    cert = make_app_cert("smtp-bot-app")
    encrypted = cert.write_pem(tmp_path / "enc.pem", "S3cret-Pw")
    with pytest.raises(CertificateProblem) as err:
        load_certificate(encrypted, "wrong-Pw")
    assert "wrong certificate_password" in str(err.value) and "wrong-Pw" not in str(err.value)
    mismatched = tmp_path / "mismatch.pem"
    mismatched.write_text(cert.key_pem() + make_app_cert("other").cert_pem)
    with pytest.raises(CertificateProblem, match="does not belong to the certificate"):
        load_certificate(mismatched)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00not a certificate")
    with pytest.raises(CertificateProblem, match="neither PEM nor PKCS#12"):
        load_certificate(junk)
