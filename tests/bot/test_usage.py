"""Usage shown for a command that does not parse lists only what the configured tenants
offer (issue 14, item 16), as `/smtp help` already does."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.testclient import TestClient

from approvals import Database
from bot.commands.messages import usage_for, whole_tenant_note
from tests.bot.test_fuzz_requests import _signed, app  # noqa: F401 - app is a fixture

__all__ = ["app"]


def _ack(client: TestClient, text: str, response_url: str) -> str:
    body = urlencode(
        {
            "team_id": "T0TEST",
            "channel_id": "C0OPS",
            "user_id": "U0REQ",
            "command": "/smtp",
            "text": text,
            "response_url": response_url,
            "trigger_id": f"usage.{abs(hash(text))}",
        }
    )
    headers = _signed(body, corrupt=False, content_type="application/x-www-form-urlencoded")
    response = client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 200
    return str(response.json()["text"])


def test_a_whm_only_bot_does_not_offer_exchange_verbs_or_targets(
    app: tuple[TestClient, Database, str],  # noqa: F811
) -> None:
    client, _db, response_url = app
    text = _ack(client, "frobnicate acme", response_url)
    for verb in ("disable", "enable", "hold", "release", "status", "list", "history"):
        assert f"`/smtp {verb} " in text
    assert "/smtp reset" not in text
    assert "GUID" not in text and "Exchange" not in text
    assert "Targets: `user@domain` or `account:NAME`." in text


def test_without_a_config_every_verb_and_target_kind_is_listed() -> None:
    text = usage_for(None)
    assert "/smtp reset" in text and "/smtp hold" in text
    assert "mailbox GUID (Exchange)" in text


def test_whole_tenant_changes_say_what_they_do_on_each_back_end() -> None:
    whm = whole_tenant_note("whm", "disable", ["*"])
    assert "SMTP Restrictions" in whm and "does NOT stop mail sent through Exim" in whm
    assert "PHP mail()" in whm and "webmail" in whm and "authenticated SMTP" in whm
    exchange = whole_tenant_note("exchange", "disable", ["*"])
    assert "SMTP AUTH off for the whole organisation" in exchange and "Exim" not in exchange
    assert "back on" in whole_tenant_note("exchange", "enable", ["*"])
    assert "Tweak Settings" in whole_tenant_note("whm", "set", ["setting:nobodyspam=on"])
    assert whole_tenant_note("whm", "disable", ["a@x.test"]) == ""
