"""A loopback Microsoft Entra ID token endpoint for tests: real HTTPS, what msal asks for.

msal, configured with ``authority_host`` = this server and ``instance_discovery=False``,
makes two kinds of request, both served here as Entra ID documents them:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the tenant's OpenID
  configuration; ``token_endpoint`` names the tenant by its GUID even when asked by domain.
  An unknown tenant gets HTTP 400 with AADSTS90002, as login.microsoftonline.com answers.
- ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``, ``scope``,
  ``client_id`` and a ``client_assertion`` JWT. The assertion is checked the way Entra ID
  checks it: its header names a certificate registered on the app (``x5t#S256`` or
  ``x5t``), its signature verifies with THAT certificate's public key, ``aud`` is this
  token endpoint, ``iss`` = ``sub`` = the app ID, ``jti`` is set, it is not expired (and
  not before its ``nbf``/``iat`` when it has them: msal sends ``iat``, not ``nbf``).
  Failures answer the AADSTS code Entra ID uses (700027, 700024, 700016, 50027, 50048);
  ``refuse`` makes every token request answer one of ``REFUSALS`` (consent missing…).

Access tokens are JWTs (HS256 with this fake's own key, ``verify`` checks them) whose
``aud`` is the scope's resource and whose ``roles`` are the app permissions granted for it.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.fakes.loopback import LoopbackFake, LoopbackServer

__all__ = ["REFUSALS", "FakeLogin", "TokenRequest"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXCHANGE_ROLE = "Exchange.ManageAsApp"

# code -> (HTTP status, OAuth error, description), as Entra ID words them
REFUSALS: dict[int, tuple[int, str, str]] = {
    90002: (
        400,
        "invalid_request",
        "Tenant '{tenant}' not found. Check to make sure you "
        "have the correct tenant ID and are signing into the correct cloud.",
    ),
    700016: (
        400,
        "unauthorized_client",
        "Application with identifier '{app}' was not found in the directory '{tenant}'.",
    ),
    7000229: (
        401,
        "invalid_client",
        "The client application {app} is missing service principal in the tenant {tenant}.",
    ),
    700027: (
        401,
        "invalid_client",
        "Client assertion failed signature validation. (Reason - The key was not found.)",
    ),
    700024: (400, "invalid_client", "Client assertion is not within its valid time range."),
    65001: (
        400,
        "invalid_grant",
        "The user or administrator has not consented to use the application with ID '{app}'.",
    ),
    7000112: (400, "unauthorized_client", "Application '{app}' is disabled."),
    500011: (
        400,
        "invalid_resource",
        "The resource principal named {scope} was not found in the tenant named {tenant}.",
    ),
    50027: (400, "invalid_request", "JWT token is invalid or malformed: {why}."),
    50048: (400, "invalid_request", "Subject mismatches Issuer claim in the client assertion."),
    53003: (
        400,
        "access_denied",
        "Access has been blocked by Conditional Access policies. "
        "The access policy does not allow token issuance.",
    ),
    90033: (503, "temporarily_unavailable", "A transient error has occurred. Try again."),
}


@dataclass(frozen=True)
class TokenRequest:
    """One POST to the token endpoint, as the fake saw and judged it."""

    tenant: str
    client_id: str
    scope: str
    code: int | None  # the AADSTS code answered, None for a token
    assertion_alg: str = ""


@dataclass
class _App:
    app_id: str
    certificates: list[x509.Certificate] = field(default_factory=list)
    roles: dict[str, list[str]] = field(default_factory=dict)  # resource -> app roles


class FakeLogin(LoopbackFake):
    """One Entra ID tenant with one or more app registrations, on https://localhost:port."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext,
        tenant_id: str = "8f1c2b4e-1111-4a5b-9c3d-0123456789ab",
        domains: tuple[str, ...] = ("contoso.onmicrosoft.com",),
        expires_in: int = 3599,
    ) -> None:
        self.tenant_id = tenant_id
        self.domains = tuple(d.lower() for d in domains)
        self.expires_in = expires_in
        self.refuse: int | None = None  # answer every token request with this AADSTS code
        self.requests: list[TokenRequest] = []
        self.discoveries: list[str] = []  # tenants asked for their OpenID configuration
        self.apps: dict[str, _App] = {}
        # resource -> who mints its tokens instead of this fake (a resource's own fake that
        # only accepts tokens it knows, e.g. FakeExchangeRest.issue_token)
        self.issuers: dict[str, Callable[[], str]] = {}
        self._key = secrets.token_bytes(32)  # signs the access tokens this fake issues
        self._tls = tls
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self.url = ""

    # -- set-up ---------------------------------------------------------------------------

    def register_app(
        self, app_id: str, certificate_pem: str | bytes, roles: dict[str, list[str]] | None = None
    ) -> None:
        """An app registration with this certificate; ``roles`` maps a resource
        (``https://outlook.office365.com``) to the app permissions admin consent granted."""
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        app = self.apps.setdefault(app_id.lower(), _App(app_id.lower()))
        app.certificates.append(x509.load_pem_x509_certificate(pem))
        app.roles.update(roles or {})

    def grant(self, app_id: str, resource: str, *roles: str) -> None:
        """Admin consent for app permissions on ``resource`` (replacing what was granted)."""
        self.apps[app_id.lower()].roles[resource.rstrip("/")] = list(roles)

    @property
    def token_requests(self) -> int:
        with self._lock:
            return len(self.requests)

    def verify(self, token: str, resource: str) -> dict[str, Any]:
        """The claims of a token this fake issued for ``resource`` (jwt errors otherwise)."""
        return jwt.decode(token, self._key, algorithms=["HS256"], audience=resource.rstrip("/"))

    def token_endpoint(self, tenant: str | None = None) -> str:
        return f"{self.url}/{tenant or self.tenant_id}/oauth2/v2.0/token"

    # -- lifecycle ------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    # -- the two endpoints ----------------------------------------------------------------

    def _knows(self, tenant: str) -> bool:
        return tenant.lower() in (self.tenant_id, *self.domains)

    def openid_configuration(self, tenant: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.discoveries.append(tenant)
        if not self._knows(tenant):
            return _error(90002, tenant=tenant)
        base = f"{self.url}/{self.tenant_id}"
        return 200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0",
            "jwks_uri": f"{self.url}/{self.tenant_id}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post"],
            "tenant_region_scope": "NA",
        }

    def token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        client_id = form.get("client_id", "").lower()
        scope = form.get("scope", "")
        code, alg, why = self._judge(tenant, client_id, scope, form)
        with self._lock:
            self.requests.append(TokenRequest(tenant, client_id, scope, code, alg))
        if code is not None:
            return _error(code, tenant=tenant, app=client_id, scope=scope, why=why)
        resource = scope.split()[0].removesuffix("/.default").rstrip("/")
        now = int(time.time())
        roles = self.apps[client_id].roles.get(resource, [])
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "tid": self.tenant_id,
            "appid": client_id,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
            "iat": now,
            "nbf": now,
            "exp": now + self.expires_in,
        }
        if roles:
            claims["roles"] = roles  # absent without consent: Entra ID still issues the token
        return 200, {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": issuer()
            if (issuer := self.issuers.get(resource))
            else jwt.encode(claims, self._key, algorithm="HS256"),
        }

    def _judge(
        self, tenant: str, client_id: str, scope: str, form: dict[str, str]
    ) -> tuple[int | None, str, str]:
        """The AADSTS code this request earns (None: a token), the assertion's alg, and
        what was wrong with it (for AADSTS50027's text)."""
        if not self._knows(tenant):
            return 90002, "", ""
        if form.get("grant_type") != "client_credentials" or not scope.endswith("/.default"):
            return 50027, "", "grant_type client_credentials with a /.default scope expected"
        app = self.apps.get(client_id)
        if app is None:
            return 700016, "", ""
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            return 50027, "", "no client_assertion"
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.DecodeError:
            return 50027, "", "the client assertion is not a JWT"
        alg = str(header.get("alg", ""))
        cert = _registered(app, header)
        if cert is None or alg not in ("PS256", "RS256"):
            return 700027, alg, ""
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=[alg],
                audience=[self.token_endpoint(tenant), self.token_endpoint()],
                options={"require": ["aud", "iss", "sub", "exp", "jti"]},  # nbf/iat: if sent
            )
        except jwt.InvalidSignatureError:
            return 700027, alg, ""
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            return 700024, alg, ""
        except jwt.InvalidAudienceError:
            return 50027, alg, "unexpected audience"
        except jwt.InvalidTokenError as exc:
            return 50027, alg, type(exc).__name__
        if claims["iss"] != claims["sub"]:
            return 50048, alg, ""
        if str(claims["iss"]).lower() != client_id:
            return 50027, alg, "subject identifier mismatch"
        if self.refuse is not None:
            return self.refuse, alg, ""
        return None, alg, ""


def _registered(app: _App, header: dict[str, Any]) -> x509.Certificate | None:
    """The app's certificate the assertion header names by thumbprint, if registered."""
    for cert in app.certificates:
        if _unpadded(header.get("x5t#S256")) == _b64(cert.fingerprint(hashes.SHA256())):
            return cert
        if _unpadded(header.get("x5t")) == _b64(cert.fingerprint(hashes.SHA1())):
            return cert
    return None


def _unpadded(value: object) -> str | None:
    return value.rstrip("=") if isinstance(value, str) else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _error(code: int, **values: str) -> tuple[int, dict[str, Any]]:
    status, error, text = REFUSALS[code]
    trace = str(uuid.uuid4())
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {text.format_map(_Blank(values))} "
        f"Trace ID: {trace} Correlation ID: {uuid.uuid4()} Timestamp: "
        f"{time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: LoopbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            self._reply(*self.server.fake.openid_configuration(parts[0]))
        else:
            self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            self._reply(*self.server.fake.token(parts[0], form))
        else:
            self._reply(404, {"error": "not_found"})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""
