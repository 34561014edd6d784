"""App-only access tokens from msal, signed in with the app's certificate.

``MsalTokens`` is the ``AccessTokens`` of a REST tenant: one msal
``ConfidentialClientApplication`` per tenant, whose own token cache keeps each scope's token
and hands out a new one only when fewer than five minutes are left (msal's rule), so a
thousand calls cost one token request. msal's cache has its own lock; a lock per scope here
also keeps a burst of first calls (several ``$batch`` requests in flight) to ONE token
request instead of one each.

Why these msal settings:
- ``instance_discovery=False``: the authority host comes from the operator's config (a
  sovereign cloud's host, or an override), never from a user. Instance discovery would ask
  the global cloud's login.microsoftonline.com whether that host is Microsoft's, a request
  an isolated GCC High/DoD network may not even allow; msal then reads the token URL from
  ``{authority}/v2.0/.well-known/openid-configuration`` of the configured host instead.
- ``client_credential`` with ``private_key`` + ``public_certificate`` (no SHA-1 thumbprint):
  msal signs the client assertion with PS256 and names the key by its SHA-256 thumbprint
  (``x5t#S256``), the form Entra ID prefers since msal 1.35.
- ``http_client``: a requests session whose CA trust is the tenant's ``verify_tls`` and
  nothing else. requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's
  ``verify``; here the session keeps its own (proxies from the environment still apply).

Errors are ``SignInRefused`` (an ``AuthError``) worded by their Entra ID cause
(``providers.signin_causes.entra_cause``), ``Unavailable``/``ProviderTimeout`` for a login
endpoint that cannot be reached, all ``before_change=True``; Entra's own text goes to the
error's ``detail`` with anything token-shaped cut out. Tokens are never logged.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from msal.exceptions import MsalServiceError

from providers import deadline
from providers.errors import AuthError, ProtocolError, ProviderTimeout, Unavailable
from providers.microsoft.certificate import CertificateProblem, ClientCertificate
from providers.signin_causes import entra_cause

__all__ = ["MsalTokens", "SignInRefused"]

_AADSTS = re.compile(r"AADSTS(\d+)")
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")  # anything token-shaped
# Entra ID's codes for "try again later" (reference-error-codes: 50033 RetryableError,
# 90006 ExternalServerRetryableError, 90024 RequestBudgetExceededError, 90033 MSODS down)
_TRANSIENT = {50033, 90006, 90024, 90033}
_REFUSED = "Microsoft Entra ID refused the app-only sign-in"


class SignInRefused(AuthError):
    """Entra ID answered the token request with an error; ``aadsts`` is its code if any."""

    def __init__(self, user_message: str, *, detail: str = "", aadsts: int | None = None):
        super().__init__(user_message, detail=detail, before_change=True)
        self.aadsts = aadsts


class _TenantSession(requests.Session):
    """requests, trusting only the tenant's ``verify_tls``, with a default timeout."""

    def __init__(self, verify_tls: bool | str, timeout_s: float) -> None:
        super().__init__()
        self.verify = verify_tls
        self._timeout_s = timeout_s

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ):  # type: ignore[no-untyped-def]  # noqa: E501
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify  # never REQUESTS_CA_BUNDLE instead
        return settings

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):  # type: ignore[override]  # noqa: E501
        limit = deadline.clamp(kwargs.pop("timeout", None) or self._timeout_s)
        if limit is not None and limit <= 0:
            raise requests.Timeout("the deadline passed before the request")
        return super().request(method, url, *args, timeout=limit, **kwargs)


class MsalTokens:
    """``AccessTokens`` for one tenant's app, signed in with its certificate."""

    def __init__(
        self,
        *,
        tenant_id: str,
        app_id: str,
        certificate: ClientCertificate | Callable[[], ClientCertificate],
        authority_host: str,
        verify_tls: bool | str = True,
        timeout_s: float = 30.0,
        tenant_key: str = "tenant_id",
    ) -> None:
        self.authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._host = urlsplit(authority_host).netloc or authority_host
        self._app_id = app_id
        self._certificate = certificate
        self._tenant_key = tenant_key
        self._session = _TenantSession(verify_tls, timeout_s)
        self._app: msal.ConfidentialClientApplication | None = None
        self._app_lock = threading.Lock()
        self._scope_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"MsalTokens(authority={self.authority!r}, app_id={self._app_id!r})"

    def bearer(self, scope: str) -> str:
        """A valid token for ``scope`` from msal's cache, or from Entra ID when it runs low."""
        with self._lock_for(scope):
            app = self._application()
            try:
                result = app.acquire_token_for_client(scopes=[scope])
            except (requests.RequestException, OSError, MsalServiceError) as exc:
                raise self._unreachable(exc) from None
            except ValueError as exc:  # a reply that is not the documented JSON
                raise ProtocolError(
                    f"The sign-in endpoint {self._host} sent a reply that is not a token response.",
                    detail=_one_line(type(exc).__name__),
                    before_change=True,
                ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        raise self._refused(result if isinstance(result, dict) else {})

    def close(self) -> None:
        """Close the HTTPS connections to the login endpoint."""
        self._session.close()

    # --- internals ----------------------------------------------------------------------

    def _lock_for(self, scope: str) -> threading.Lock:
        with self._app_lock:
            return self._scope_locks.setdefault(scope, threading.Lock())

    def _application(self) -> msal.ConfidentialClientApplication:
        """Built on first use (the certificate is read and msal reads the OpenID
        configuration then), again after a failure, so a login endpoint that was down at
        start does not stick, and building a provider never touches a file or the network."""
        with self._app_lock:
            if self._app is not None:
                return self._app
            certificate = self._load_certificate()
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._app_id,
                    authority=self.authority,
                    client_credential={
                        "private_key": certificate.private_key_pem,
                        "public_certificate": certificate.certificate_pem,
                    },
                    http_client=self._session,
                    instance_discovery=False,
                    token_cache=msal.TokenCache(),
                )
            except (requests.RequestException, OSError, MsalServiceError) as exc:
                raise self._unreachable(exc) from None
            except ValueError as exc:  # the OpenID configuration was refused or unusable
                raise self._discovery_failed(exc) from None
            return self._app

    def _load_certificate(self) -> ClientCertificate:
        if isinstance(self._certificate, ClientCertificate):
            return self._certificate
        try:  # checked when the config loaded; the file may have changed since
            return self._certificate()
        except CertificateProblem as exc:
            raise AuthError(
                f"The app's certificate cannot be used: {exc}.",
                detail=str(exc),
                before_change=True,
            ) from None

    def _refused(self, result: dict[str, Any]) -> ProviderTimeout | Unavailable | SignInRefused:
        error = str(result.get("error") or "no access_token")
        description = str(result.get("error_description") or "")
        codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
        code = codes[0] if codes else _first_code(description)
        detail = _one_line(f"{self.authority}: {error}: {description}")
        if code in _TRANSIENT or error == "temporarily_unavailable":
            return Unavailable(
                f"Microsoft Entra ID ({self._host}) is temporarily unavailable; try again.",
                detail=detail,
                before_change=True,
            )
        cause = entra_cause(
            f"AADSTS{code}: {description}" if code else description, tenant_key=self._tenant_key
        )
        text = f"{_REFUSED}: {cause}." if cause else f"{_REFUSED} ({error})."
        return SignInRefused(text, detail=detail, aadsts=code)

    def _discovery_failed(self, exc: ValueError) -> SignInRefused | ProtocolError:
        """msal wraps the endpoint's answer (e.g. AADSTS90002 for an unknown tenant) in its
        own ValueError; the answer is the exception it was raised from."""
        said = f"{exc.__context__ or ''} {exc}"
        code = _first_code(said)
        detail = _one_line(f"{self.authority}: OpenID configuration: {said}")
        cause = entra_cause(said, tenant_key=self._tenant_key) if code else None
        if cause:
            return SignInRefused(f"{_REFUSED}: {cause}.", detail=detail, aadsts=code)
        return ProtocolError(
            f"The sign-in endpoint {self._host} did not give its OpenID configuration for "
            f"this tenant: check `{self._tenant_key}` and `authority_host`/`cloud`.",
            detail=detail,
            before_change=True,
        )

    def _unreachable(self, exc: BaseException) -> Unavailable:
        name = type(exc).__name__
        if isinstance(exc, requests.exceptions.SSLError):
            return Unavailable(
                f"TLS verification of the sign-in endpoint {self._host} failed (set "
                "`verify_tls` to its CA bundle if it uses a private CA).",
                detail=name,
                before_change=True,
            )
        if isinstance(exc, requests.Timeout):
            return ProviderTimeout(
                f"The sign-in endpoint {self._host} did not answer in time.",
                detail=name,
                before_change=True,
            )
        status = _http_status(exc)
        if status is not None:
            return Unavailable(
                f"The sign-in endpoint {self._host} failed (HTTP {status}); try again.",
                detail=f"{name}: HTTP {status}",
                before_change=True,
            )
        return Unavailable(
            f"The sign-in endpoint {self._host} could not be reached.",
            detail=name,
            before_change=True,
        )


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of a 5xx that msal (or requests) raised for, if it was one."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code
    if isinstance(exc, MsalServiceError):  # msal's own: "HTTP Error: 503"
        found = re.search(r"\b([1-5]\d\d)\b", str(exc))
        return int(found.group(1)) if found else None
    return None


def _first_code(text: str) -> int | None:
    found = _AADSTS.search(text)
    return int(found.group(1)) if found else None


def _one_line(text: str, limit: int = 600) -> str:
    """Entra ID's reason for the audit trail: one line, bounded, nothing token-shaped."""
    clean = _JWT.sub("[token]", " ".join(text.split()))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
