"""``drift_check_interval``: 15m unless set, a duration or ``off``, and a clear word for
anything else (naming the key and its line)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.durations import parse_interval
from bot.config.schema import load_config
from bot.errors import ConfigError

CONFIG = """\
tenants:
  acme:
    provider: whm
    url: https://whm.acme.example:2087
    username: root
    token: T0KEN
    approvers: [U0123ABCD]
    approvals_required_tenant_wide: 1
{extra}"""


def _load(tmp_path: Path, extra: str = ""):
    path = tmp_path / "smtp-bot.yml"
    path.write_text(CONFIG.format(extra=extra))
    return load_config(path).tenants["acme"]


def test_the_default_is_fifteen_minutes_and_off_turns_it_off(tmp_path: Path) -> None:
    assert _load(tmp_path).drift_interval == timedelta(minutes=15)
    assert _load(tmp_path, "    drift_check_interval: 'off'\n").drift_interval is None
    assert _load(tmp_path, "    drift_check_interval: 'OFF'\n").drift_interval is None
    assert _load(tmp_path, "    drift_check_interval: 90s\n").drift_interval == timedelta(
        seconds=90
    )


def test_anything_else_is_refused_with_its_key_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "    drift_check_interval: soon\n")
    text = str(caught.value)
    assert "drift_check_interval" in text and "line 9" in text
    assert "write it like 15m, 1h or 90s, or off" in text


def test_parse_interval() -> None:
    assert parse_interval(" off ") is None
    assert parse_interval("2h") == timedelta(hours=2)
    with pytest.raises(ValueError, match="not an interval"):
        parse_interval("0m")


def test_off_written_bare_in_yaml_is_off(tmp_path: Path) -> None:
    """YAML 1.1 reads a bare ``off`` as false: it still means off."""
    assert _load(tmp_path, "    drift_check_interval: off\n").drift_interval is None
