"""Exchange tenants' two transports in the config file: ``transport: rest`` keys, sovereign
clouds' hosts, and every bad input refused at load with its key and line (nothing starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.schema import ExchangeTenant, load_config
from bot.errors import ConfigError
from tests.fakes.app_certs import AppCert, make_app_cert

TENANT_GUID = "8f1c2b4e-1111-4a5b-9c3d-0123456789ab"
PASSWORD = "Cert-Pa55-w0rd!"

REST = """\
tenants:
  contoso:
    provider: exchange
    transport: rest
    tenant_id: {tenant_id}
    organization: {organization}
    app_id: 11111111-2222-3333-4444-555555555555
    certificate_path: {path}
{extra}    approvers: [U0123ABCD]
    approvals_required_tenant_wide: 1
"""

WINRM = """\
tenants:
  contoso:
    provider: exchange
    organization: contoso.onmicrosoft.com
    app_id: 11111111-2222-3333-4444-555555555555
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    winrm:
      url: https://mgmt01.contoso.example:5986/wsman
      username: CONTOSO\\\\svc-smtpbot
      password: pw
{extra}    approvers: [U0123ABCD]
    approvals_required_tenant_wide: 1
"""


@pytest.fixture(scope="module")
def cert() -> AppCert:
    return make_app_cert("smtp-bot-config")


@pytest.fixture
def pem(cert: AppCert, tmp_path: Path) -> Path:
    return cert.write_pem(tmp_path / "app.pem")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smtp-bot.yml"
    path.write_text(text)
    return path


def rest(
    tmp_path: Path,
    path: Path | str,
    extra: str = "",
    *,
    tenant_id: str = TENANT_GUID,
    organization: str = "contoso.onmicrosoft.com",
) -> Path:
    text = REST.format(tenant_id=tenant_id, organization=organization, path=path, extra=extra)
    return write(tmp_path, text)


def problems(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return str(err.value)


# --- what loads -------------------------------------------------------------------------------


def test_a_rest_tenant_loads_with_the_global_clouds_hosts(tmp_path: Path, pem: Path) -> None:
    tenant = load_config(rest(tmp_path, pem)).tenants["contoso"]
    assert isinstance(tenant, ExchangeTenant) and tenant.transport == "rest"
    app = tenant.microsoft_app()
    assert app is not None
    assert (app.tenant_id, app.certificate_path) == (TENANT_GUID, str(pem))
    assert app.authority_host == "https://login.microsoftonline.com"
    assert app.exchange_url == "https://outlook.office365.com"
    assert app.graph_url == "https://graph.microsoft.com"
    assert app.verify_tls is True and app.certificate_password is None
    assert tenant.plaintext_url is None


@pytest.mark.parametrize(
    ("cloud", "login", "exchange", "graph"),
    [
        (
            "gcc-high",
            "https://login.microsoftonline.us",
            "https://outlook.office365.us",
            "https://graph.microsoft.us",
        ),
        (
            "dod",
            "https://login.microsoftonline.us",
            "https://webmail.apps.mil",
            "https://dod-graph.microsoft.us",
        ),
    ],
)
def test_sovereign_clouds_choose_their_own_hosts(
    tmp_path: Path, pem: Path, cloud: str, login: str, exchange: str, graph: str
) -> None:
    path = rest(tmp_path, pem, f"    cloud: {cloud}\n", organization="contoso.onmicrosoft.us")
    app = load_config(path).tenants["contoso"].microsoft_app()  # type: ignore[union-attr]
    assert app is not None
    assert (app.authority_host, app.exchange_url, app.graph_url) == (login, exchange, graph)


def test_overrides_replace_a_clouds_hosts(tmp_path: Path, pem: Path) -> None:
    extra = (
        "    cloud: gcc-high\n"
        "    authority_host: https://login.proxy.example:8443/\n"
        "    exchange_url: https://exo.proxy.example\n"
        "    graph_url: https://graph.proxy.example\n"
        "    verify_tls: false\n"
    )
    app = load_config(rest(tmp_path, pem, extra)).tenants["contoso"].microsoft_app()  # type: ignore[union-attr]
    assert app is not None
    assert app.authority_host == "https://login.proxy.example:8443"
    assert (app.exchange_url, app.graph_url) == (
        "https://exo.proxy.example",
        "https://graph.proxy.example",
    )
    assert app.verify_tls is False


@pytest.mark.parametrize("kind", ["pem", "pfx"])
def test_an_encrypted_certificate_loads_with_its_password_which_is_a_secret(
    tmp_path: Path, cert: AppCert, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    file = (
        cert.write_pem(tmp_path / "enc.pem", PASSWORD)
        if kind == "pem"
        else cert.write_pfx(tmp_path / "app.pfx", PASSWORD)
    )
    monkeypatch.setenv("CONTOSO_CERT_PASSWORD", PASSWORD)
    config = load_config(
        rest(tmp_path, file, "    certificate_password: ${CONTOSO_CERT_PASSWORD}\n")
    )
    tenant = config.tenants["contoso"]
    assert PASSWORD in config.secret_values()
    assert PASSWORD not in repr(config) and PASSWORD not in repr(tenant.microsoft_app())  # type: ignore[union-attr]
    app = tenant.microsoft_app()  # type: ignore[union-attr]
    assert app is not None and app.certificate_password == PASSWORD


def test_existing_winrm_configs_are_unchanged(tmp_path: Path) -> None:
    tenant = load_config(write(tmp_path, WINRM.format(extra=""))).tenants["contoso"]
    assert isinstance(tenant, ExchangeTenant)
    assert tenant.transport == "winrm" and tenant.winrm is not None
    assert tenant.microsoft_app() is None  # no Graph sign-in without a certificate file


def test_a_winrm_tenant_may_sign_in_to_graph_with_a_certificate_file(
    tmp_path: Path, pem: Path
) -> None:
    text = WINRM.format(extra=f"    certificate_path: {pem}\n")
    app = load_config(write(tmp_path, text)).tenants["contoso"].microsoft_app()  # type: ignore[union-attr]
    assert app is not None
    assert app.tenant_id == "contoso.onmicrosoft.com"  # the organisation names the tenant
    assert app.graph_url == "https://graph.microsoft.com"


# --- what is refused --------------------------------------------------------------------------


def test_a_missing_certificate_file(tmp_path: Path) -> None:
    said = problems(rest(tmp_path, tmp_path / "nowhere.pem"))
    assert "tenants.contoso.certificate_path (smtp-bot.yml, line 8)" in said
    assert "nowhere.pem: no such file" in said


def test_a_certificate_without_its_private_key(tmp_path: Path, cert: AppCert) -> None:
    only_cert = tmp_path / "public.pem"
    only_cert.write_text(cert.cert_pem)
    said = problems(rest(tmp_path, only_cert))
    assert "tenants.contoso.certificate_path" in said
    assert "public.pem: no private key in the file" in said
    keyless_pfx = tmp_path / "keyless.pfx"
    from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

    keyless_pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(b"x", None, cert.cert, None, NoEncryption())
    )
    assert "no private key in the PKCS#12 file" in problems(rest(tmp_path, keyless_pfx))


@pytest.mark.parametrize("kind", ["pem", "pfx"])
def test_a_wrong_password(tmp_path: Path, cert: AppCert, kind: str) -> None:
    file = (
        cert.write_pem(tmp_path / "enc.pem", PASSWORD)
        if kind == "pem"
        else cert.write_pfx(tmp_path / "app.pfx", PASSWORD)
    )
    said = problems(rest(tmp_path, file, "    certificate_password: Not-The-One\n"))
    assert "wrong certificate_password" in said and "tenants.contoso.certificate_path" in said
    assert "Not-The-One" not in said and PASSWORD not in said


def test_an_encrypted_key_without_a_password(tmp_path: Path, cert: AppCert) -> None:
    said = problems(rest(tmp_path, cert.write_pem(tmp_path / "enc.pem", PASSWORD)))
    assert "the private key is encrypted: set certificate_password" in said


def test_an_unset_password_variable_is_said_once(tmp_path: Path, cert: AppCert) -> None:
    file = cert.write_pem(tmp_path / "enc.pem", PASSWORD)
    said = problems(rest(tmp_path, file, "    certificate_password: ${NOT_SET_ANYWHERE}\n"))
    assert "environment variable NOT_SET_ANYWHERE is not set" in said
    assert "certificate_path" not in said  # not a second, misleading problem


@pytest.mark.parametrize(
    "tenant_id",
    [
        "not a tenant",
        "contoso",
        "https://login.microsoftonline.com/x",
        "1234-5678",
        "contoso.com",
        "contoso.onmicrosoft.com/..",
    ],
)
def test_a_tenant_id_that_is_neither_a_guid_nor_a_domain(
    tmp_path: Path, pem: Path, tenant_id: str
) -> None:
    said = problems(rest(tmp_path, pem, tenant_id=f'"{tenant_id}"'))
    assert "tenants.contoso.tenant_id (smtp-bot.yml, line 5)" in said
    assert "expected the tenant's ID, a GUID like" in said and "*.onmicrosoft.com domain" in said


def test_a_tenant_id_may_be_the_tenants_domain(tmp_path: Path, pem: Path) -> None:
    path = rest(tmp_path, pem, tenant_id="contoso.onmicrosoft.com")
    assert load_config(path).tenants["contoso"].tenant_id == "contoso.onmicrosoft.com"  # type: ignore[union-attr]


def test_winrm_keys_on_a_rest_tenant(tmp_path: Path, pem: Path) -> None:
    extra = (
        "    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567\n"
        "    winrm:\n      url: https://h:5986/wsman\n      username: u\n      password: p\n"
    )
    said = problems(rest(tmp_path, pem, extra))
    for key in ("certificate_thumbprint", "winrm"):
        assert f"tenants.contoso.{key} " in said
        assert f"`{key}` belongs to `transport: winrm`" in said


def test_a_rest_tenant_needs_its_tenant_id_and_certificate(tmp_path: Path) -> None:
    text = REST.replace("    tenant_id: {tenant_id}\n", "").replace(
        "    certificate_path: {path}\n", ""
    )
    said = problems(write(tmp_path, text.format(organization="contoso.onmicrosoft.com", extra="")))
    assert "`tenant_id` is required here" in said
    assert "`certificate_path` is required here" in said


def test_a_winrm_tenant_needs_its_winrm_keys(tmp_path: Path) -> None:
    text = WINRM.format(extra="").split("    certificate_thumbprint:")[0] + (
        "    approvers: [U0123ABCD]\n    approvals_required_tenant_wide: 1\n"
    )
    said = problems(write(tmp_path, text))
    assert "`winrm` is required here" in said and "`certificate_thumbprint` is required" in said


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("    exchange_url: https://outlook.office365.us\n", "`exchange_url` belongs to"),
        ("    cloud: gcc-high\n", "`cloud: gcc-high` needs `transport: rest`"),
        ("    cloud: moon\n", "expected `global`, `gcc-high` or `dod`"),
    ],
)
def test_rest_only_settings_on_a_winrm_tenant(tmp_path: Path, extra: str, fragment: str) -> None:
    assert fragment in problems(write(tmp_path, WINRM.format(extra=extra)))


def test_a_us_government_organisation_needs_rest(tmp_path: Path) -> None:
    text = WINRM.format(extra="").replace("contoso.onmicrosoft.com", "contoso.onmicrosoft.us")
    assert "is a US Government (GCC High or DoD) tenant" in problems(write(tmp_path, text))


@pytest.mark.parametrize("key", ["authority_host", "exchange_url", "graph_url"])
def test_hosts_must_be_https_without_a_path(tmp_path: Path, pem: Path, key: str) -> None:
    for bad in ("http://login.example", "https://login.example/tenant"):
        said = problems(rest(tmp_path, pem, f"    {key}: {bad}\n"))
        assert f"tenants.contoso.{key}" in said and "an https:// URL with no path" in said


def test_an_empty_password_and_a_password_without_a_file(tmp_path: Path, pem: Path) -> None:
    said = problems(rest(tmp_path, pem, '    certificate_password: ""\n'))
    assert "`certificate_password` is empty" in said
    text = WINRM.format(extra="    certificate_password: x\n")
    assert "`certificate_password` is set but `certificate_path` is not" in problems(
        write(tmp_path, text)
    )


def test_a_typo_in_a_rest_key_gets_the_nearest_key(tmp_path: Path, pem: Path) -> None:
    said = problems(rest(tmp_path, pem, "    certficate_password: x\n"))
    assert "unknown key `certficate_password`; did you mean `certificate_password`?" in said
