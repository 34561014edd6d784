"""``smtp-bot check`` for a ``transport: rest`` tenant: the real msal against the loopback
Entra ID endpoint, the real REST provider against the loopback Exchange Online endpoint,
both over HTTPS with a test CA, both reached through the tenant's own config keys
(``authority_host``, ``exchange_url``, ``verify_tls``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from bot.cli.check import check_tenant
from bot.cli.check_backends import Level
from bot.cli.check_rest import judge_rest
from bot.cli.main import main
from bot.config.schema import ExchangeTenant, load_config
from providers import TargetResult, TargetState
from providers.errors import AuthError, Unavailable
from providers.targets import Target
from tests.fakes.app_certs import AppCert, make_app_cert
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.exchange_rest import FakeExchangeRest
from tests.fakes.ms_login import EXCHANGE_ROLE, FakeLogin
from tests.fakes.whm import server_tls

APP_ID = "11111111-2222-3333-4444-555555555555"
PASSWORD = "Ch3ck-Cert-Pa55"
LABEL = "tenant contoso (exchange)"

TENANT = """\
tenants:
  contoso:
    provider: exchange
    transport: rest
    tenant_id: {tenant_id}
    organization: contoso.onmicrosoft.com
    app_id: {app_id}
    certificate_path: {cert}
    certificate_password: ${{CONTOSO_CERT_PASSWORD}}
    authority_host: {login}
    exchange_url: {exchange}
    verify_tls: {ca}
    approvers: [U0APPROVER]
    approvals_required_tenant_wide: 1
"""


@dataclass
class World:
    login: FakeLogin
    exchange: FakeExchangeRest
    config: Path
    cert_file: Path
    ca: str

    def write(self, *, app_id: str = APP_ID, tenant_id: str | None = None) -> Path:
        self.config.write_text(
            TENANT.format(
                tenant_id=tenant_id or self.exchange.tenant_id,
                app_id=app_id,
                cert=self.cert_file,
                login=self.login.url,
                exchange=self.exchange.url,
                ca=self.ca,
            )
        )
        return self.config

    def tenant(self, **kwargs: str) -> ExchangeTenant:
        tenant = load_config(self.write(**kwargs)).tenants["contoso"]
        assert isinstance(tenant, ExchangeTenant)
        return tenant

    def trust_each_other(self) -> None:
        """Entra ID issues Exchange Online's tokens: the login fake hands out tokens the
        Exchange fake knows (opaque ones, like some resources get)."""
        self.login.issuers[self.exchange.url] = self.exchange.issue_token


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def app_cert() -> AppCert:
    return make_app_cert("smtp-bot-check")


@pytest.fixture
def world(
    ca: trustme.CA, app_cert: AppCert, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_file = app_cert.write_pfx(tmp_path / "app.pfx", PASSWORD)
    monkeypatch.setenv("CONTOSO_CERT_PASSWORD", PASSWORD)
    org = FakeExchangeOrg(org_disabled=True)
    with (
        FakeLogin(tls=server_tls(ca)) as login,
        FakeExchangeRest(org, tls=server_tls(ca), tenant_id=login.tenant_id) as exchange,
    ):
        login.register_app(APP_ID, app_cert.cert_pem, {exchange.url: [EXCHANGE_ROLE]})
        yield World(login, exchange, tmp_path / "smtp-bot.yml", cert_file, str(ca_path))
    assert exchange.violations == []


def test_a_working_rest_tenant_passes(world: World) -> None:
    world.trust_each_other()
    result = check_tenant("contoso", world.tenant(), timeout_s=5)
    assert result.level is Level.OK, result.message
    assert result.message.startswith(f"REST via localhost:{world.exchange.url.rsplit(':', 1)[1]}")
    assert "token acquired; Get-TransportConfig answers" in result.message
    assert "disabled" in result.message  # the org's SMTP AUTH state as read
    assert world.login.token_requests == 1
    assert any("Get-TransportConfig" in s.cmdlets for s in world.exchange.served)


def test_missing_consent_names_the_exchange_permission(world: World) -> None:
    world.login.grant(APP_ID, world.exchange.url)  # consent withdrawn: a token without roles
    result = check_tenant("contoso", world.tenant(), timeout_s=5)
    assert result.level is Level.FAIL
    assert "the token carries no Exchange.ManageAsApp (app roles granted: none)" in result.message
    assert "Office 365 Exchange Online → Application permissions" in result.message
    assert "grant admin consent" in result.message


def test_a_missing_exchange_role_is_named(world: World) -> None:
    world.trust_each_other()
    world.exchange.roles_missing = True  # HTTP 403 for every cmdlet
    result = check_tenant("contoso", world.tenant(), timeout_s=5)
    assert result.level is Level.FAIL
    assert "Get-TransportConfig refused" in result.message
    assert "no Exchange role" in result.message and "Exchange Administrator" in result.message


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"app_id": "99999999-2222-3333-4444-555555555555"}, "the tenant does not know the app"),
        ({"tenant_id": "fabrikam.onmicrosoft.com"}, "Microsoft does not know the organisation"),
    ],
)
def test_a_refused_sign_in_says_its_cause(world: World, change: dict[str, str], cause: str) -> None:
    result = check_tenant("contoso", world.tenant(**change), timeout_s=5)
    assert result.level is Level.FAIL and not result.setup
    assert "no token from localhost:" in result.message
    assert f"Microsoft Entra ID refused the app-only sign-in: {cause}" in result.message
    assert world.exchange.served == []  # nothing sent to Exchange without a token


def test_consent_missing_at_sign_in(world: World) -> None:
    world.login.refuse = 65001
    result = check_tenant("contoso", world.tenant(), timeout_s=5)
    assert "admin consent is missing: grant Exchange.ManageAsApp" in result.message


def test_an_unreachable_login_endpoint_fails(world: World) -> None:
    tenant = world.tenant()
    world.login.stop()
    result = check_tenant("contoso", tenant, timeout_s=3)
    assert result.level is Level.FAIL and "could not be reached" in result.message


def test_a_certificate_gone_since_load_is_a_setup_problem(world: World) -> None:
    tenant = world.tenant()
    world.cert_file.unlink()
    result = check_tenant("contoso", tenant, timeout_s=3)
    assert result.level is Level.FAIL and result.setup
    assert "tenants.contoso.certificate_path" in result.message and "no such file" in result.message


def test_a_certificate_expiring_soon_warns(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soon = make_app_cert("expiring", days=10)
    world.login.register_app(APP_ID, soon.cert_pem)
    world.cert_file = soon.write_pfx(tmp_path / "soon.pfx", PASSWORD)
    world.trust_each_other()
    result = check_tenant("contoso", world.tenant(), timeout_s=5)
    assert result.level is Level.WARN and "the certificate expires on" in result.message


def test_check_command_runs_the_rest_check_and_never_prints_the_password(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world.trust_each_other()
    monkeypatch.setenv("SMTP_BOT_CONFIG", str(world.write()))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{world.config.parent / 'none.db'}")
    main(["check", "--timeout", "5"])
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x[6:].startswith(LABEL + ":")]
    assert line.startswith("ok") and "Get-TransportConfig answers" in line
    assert PASSWORD not in out


# --- the judgement alone ----------------------------------------------------------------------

_ORG = Target.tenant()


def _ok() -> TargetResult:
    return TargetResult(_ORG, state=TargetState(_ORG, "SMTP AUTH disabled org-wide"))


def _refused() -> TargetResult:
    return TargetResult(_ORG, error=AuthError("Exchange Online refused the app (HTTP 403)."))


def test_judge_names_the_missing_permission_or_role() -> None:
    role = frozenset({"Exchange.ManageAsApp"})
    assert judge_rest(role, _ok())[0] is Level.OK
    assert "the token carries Exchange.ManageAsApp" in judge_rest(role, _ok())[1]
    level, said = judge_rest(frozenset({"Mail.Send"}), _refused())
    assert level is Level.FAIL and "no Exchange.ManageAsApp (app roles granted: Mail.Send)" in said
    level, said = judge_rest(role, _refused())
    assert "although the token carries Exchange.ManageAsApp: the app has no Exchange role" in said
    level, said = judge_rest(None, _refused())  # an opaque token: Exchange's own words
    assert said == "Get-TransportConfig refused: Exchange Online refused the app (HTTP 403)."
    down = TargetResult(_ORG, error=Unavailable("Exchange Online did not answer."))
    assert judge_rest(role, down) == (
        Level.FAIL,
        "Get-TransportConfig failed: Exchange Online did not answer.",
    )


def test_a_bad_certificate_stops_everything_at_load(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMTP_BOT_CONFIG", str(world.write()))
    monkeypatch.setenv("CONTOSO_CERT_PASSWORD", "not-the-password")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{world.config.parent / 'none.db'}")
    assert main(["check", "--timeout", "5"]) == 2  # a config problem: serve would not start
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("FAIL  config:")]
    assert "tenants.contoso.certificate_path" in line and "wrong certificate_password" in line
    assert "not-the-password" not in out and world.login.token_requests == 0
