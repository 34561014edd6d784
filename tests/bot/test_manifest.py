"""manifest.yml validates against Slack's published schema and matches what the bot serves."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.slack.views import APPROVE_ACTION, DENY_ACTION  # noqa: F401  (the buttons need interactivity)

ROOT = Path(__file__).resolve().parents[2]
# Slack's published schema (MIT, slackapi/manifest-schema), vendored so the tests run anywhere.
SCHEMA = ROOT / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json"
SHARED_SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def test_vendored_schema_is_the_shared_one() -> None:
    if not SHARED_SCHEMA.exists():
        pytest.skip("no shared/ folder beside this checkout to compare with")
    assert json.loads(SHARED_SCHEMA.read_text()) == json.loads(SCHEMA.read_text())


def test_manifest_validates_against_slack_schema(manifest: dict, schema: dict) -> None:
    jsonschema.Draft7Validator(schema).validate(manifest)


def test_schema_rejects_a_broken_manifest(manifest: dict, schema: dict) -> None:
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "smtp"  # must start with '/'
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_manifest_declares_what_the_bot_uses(manifest: dict) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/smtp"
    assert command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # commands: /smtp; chat:write: cards; usergroups:read: S… approvers; im:write: approver DMs
    assert {"commands", "chat:write", "usergroups:read", "im:write"} <= scopes
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened"]
    assert events["request_url"].endswith("/slack/events")
