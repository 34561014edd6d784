"""The config file: pinned keys, ${VAR} substitution, and errors that name key and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.schema import ExchangeTenant, WhmTenant, load_config
from bot.errors import ConfigError

MINIMAL = """\
tenants:
  acme:                       # name used in commands
    provider: whm
    url: https://whm.acme.example:2087
    username: root
    token: ${ACME_WHM_TOKEN}  # WHM API token
    verify_tls: true
    approvers: [U0123ABCD]
    approvals_required_tenant_wide: 1
    channel: C0789IJKL
  contoso:
    provider: exchange
    organization: contoso.onmicrosoft.com
    app_id: 11111111-2222-3333-4444-555555555555
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    winrm:
      url: https://mgmt01.contoso.example:5986/wsman
      transport: ntlm
      username: CONTOSO\\svc-smtpbot
      password: ${CONTOSO_WINRM_PASSWORD}
      verify_tls: true
    approvers: [S0EXCHADMINS]
    approvals_required: 2
    request_ttl: 15m
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smtp-bot.yml"
    path.write_text(text)
    return path


def test_minimal_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_WHM_TOKEN", "tok-123")
    monkeypatch.setenv("CONTOSO_WINRM_PASSWORD", "pw-456")
    config = load_config(write(tmp_path, MINIMAL))
    acme, contoso = config.tenants["acme"], config.tenants["contoso"]
    assert isinstance(acme, WhmTenant) and isinstance(contoso, ExchangeTenant)
    assert acme.token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(config)
    assert acme.policy().approvals_required == 1
    assert contoso.policy().request_ttl == timedelta(minutes=15)
    assert contoso.policy().approvals_required == 2
    assert sorted(config.secret_values()) == ["pw-456", "tok-123"]


def test_unset_variable_names_key_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTOSO_WINRM_PASSWORD", "pw")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, MINIMAL))
    assert "tenants.acme.token" in str(err.value)
    assert "line 6" in str(err.value)
    assert "ACME_WHM_TOKEN" in str(err.value)


@pytest.mark.parametrize(
    ("replace", "fragment"),
    [
        (("approvers: [U0123ABCD]", "approvers: [bob]"), "tenants.acme.approvers.0"),
        (
            ("verify_tls: true\n    approvers", "verify_tls: true\n    tokn: x\n    approvers"),
            "tokn",
        ),
        (("provider: whm", "provider: sendmail"), "tenants.acme"),
        (("  acme:", "  Acme_Corp:"), "tenant name"),
        (("request_ttl: 15m", "request_ttl: soon"), "request_ttl"),
        (("url: https://whm.acme.example:2087", "url: https://x/?a=b"), "tenants.acme.url"),
    ],
)
def test_invalid_values_are_reported_with_their_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replace: tuple[str, str], fragment: str
) -> None:
    monkeypatch.setenv("ACME_WHM_TOKEN", "t")
    monkeypatch.setenv("CONTOSO_WINRM_PASSWORD", "p")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, MINIMAL.replace(*replace)))
    assert fragment in str(err.value)
    assert "line" in str(err.value) or "tenant name" in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yml")
    with pytest.raises(ConfigError, match=r"smtp-bot.yml, line \d"):
        load_config(write(tmp_path, "tenants:\n  acme: [unclosed\n"))


def test_a_tenants_timeout_reaches_its_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.tenants import build_provider

    monkeypatch.setenv("ACME_WHM_TOKEN", "t")
    monkeypatch.setenv("CONTOSO_WINRM_PASSWORD", "p")
    default = load_config(write(tmp_path, MINIMAL))
    text = MINIMAL.replace("    channel: C0789IJKL\n", "    channel: C0789IJKL\n    timeout: 12\n")
    text = text.replace("    request_ttl: 15m\n", "    request_ttl: 15m\n    timeout: 90\n")
    config = load_config(write(tmp_path, text))

    whm = build_provider(default.tenants["acme"])
    assert whm._settings.timeout_s == 30.0  # type: ignore[attr-defined]
    whm.close()
    whm = build_provider(config.tenants["acme"])
    assert whm._settings.timeout_s == 12.0  # type: ignore[attr-defined]
    whm.close()
    winrm = build_provider(config.tenants["contoso"])._settings.winrm  # type: ignore[attr-defined]
    assert (winrm.read_timeout_s, winrm.operation_timeout_s) == (90, 75)
    with pytest.raises(ConfigError, match="tenants.acme.timeout"):
        load_config(write(tmp_path, text.replace("timeout: 12", "timeout: 0")))
