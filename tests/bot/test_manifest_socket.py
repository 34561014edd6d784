"""docs/manifest-socket-mode.yml validates against Slack's schema and declares the same app as
manifest.yml, minus the request URLs that Socket Mode does not use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json"


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def http() -> dict[str, Any]:
    return _load(ROOT / "manifest.yml")


@pytest.fixture(scope="module")
def socket() -> dict[str, Any]:
    return _load(ROOT / "docs" / "manifest-socket-mode.yml")


def test_socket_manifest_validates_against_slack_schema(socket: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(socket)


def test_socket_mode_on_and_no_request_urls(socket: dict[str, Any]) -> None:
    settings = socket["settings"]
    assert settings["socket_mode_enabled"] is True
    assert "request_url" not in settings["event_subscriptions"]
    assert "request_url" not in settings["interactivity"]
    assert all("url" not in c for c in socket["features"]["slash_commands"])
    assert "http" not in json.dumps(socket)  # no URL anywhere


def test_socket_manifest_declares_the_same_app(
    http: dict[str, Any], socket: dict[str, Any]
) -> None:
    def without_urls(command: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in command.items() if k != "url"}

    assert http["settings"]["socket_mode_enabled"] is False
    assert [without_urls(c) for c in socket["features"]["slash_commands"]] == [
        without_urls(c) for c in http["features"]["slash_commands"]
    ]
    assert socket["oauth_config"] == http["oauth_config"]
    assert (
        socket["settings"]["event_subscriptions"]["bot_events"]
        == http["settings"]["event_subscriptions"]["bot_events"]
    )
    assert socket["settings"]["interactivity"]["is_enabled"] is True
    assert http["settings"]["interactivity"]["is_enabled"] is True
    for key in ("display_information", "_metadata"):
        assert socket[key] == http[key]
    assert socket["features"]["app_home"] == http["features"]["app_home"]
    assert socket["features"]["bot_user"] == http["features"]["bot_user"]
    rest = ("org_deploy_enabled", "token_rotation_enabled")
    assert {k: socket["settings"][k] for k in rest} == {k: http["settings"][k] for k in rest}


def test_a_request_url_in_socket_mode_is_caught(socket: dict[str, Any]) -> None:
    """The test above can fail: a copy of the HTTP manifest is not a Socket Mode manifest."""
    broken = json.loads(json.dumps(socket))
    broken["settings"]["interactivity"]["request_url"] = "https://smtp-bot.example.com/slack/events"
    with pytest.raises(AssertionError):
        test_socket_mode_on_and_no_request_urls(broken)
