"""Secrets made from files: surrounding whitespace is stripped at load, and a secret with a
newline or control character inside is refused with an error naming it, never its value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import _settings
from bot.config.schema import WhmTenant, load_config
from bot.config.settings import Settings
from bot.errors import ConfigError
from tests.bot.test_config import MINIMAL, write


def test_config_secrets_lose_a_trailing_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_WHM_TOKEN", "tok-123\n")  # as $(cat token-file) or a mounted file
    monkeypatch.setenv("CONTOSO_WINRM_PASSWORD", "  pw-456\r\n")
    config = load_config(write(tmp_path, MINIMAL))
    acme = config.tenants["acme"]
    assert isinstance(acme, WhmTenant) and acme.token.get_secret_value() == "tok-123"
    assert sorted(config.secret_values()) == ["pw-456", "tok-123"]


@pytest.mark.parametrize("bad", ["tok\n123", "tok\x7f123", "tok\x1b[0m123"])
def test_a_config_secret_with_an_inner_control_character_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("ACME_WHM_TOKEN", bad)
    monkeypatch.setenv("CONTOSO_WINRM_PASSWORD", "pw-456")
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, MINIMAL))
    text = str(raised.value)
    assert "tenants.acme.token" in text and "line 6" in text and "control character" in text
    assert "123" not in text.replace("line 6", "")


def test_environment_secrets_are_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-abc\n")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "\tsig-secret \n")
    monkeypatch.setenv("SLACK_APP_TOKEN", " \n")
    settings = Settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-abc"
    assert settings.secret_values() == ["xoxb-abc", "sig-secret"]
    assert settings.slack_app_token is None


def test_an_environment_secret_with_an_inner_newline_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sig-se\ncret-XYZ")
    with pytest.raises(ConfigError) as raised:
        _settings()
    assert "SLACK_SIGNING_SECRET" in str(raised.value)
    assert "control character" in str(raised.value)
    assert "XYZ" not in str(raised.value)
