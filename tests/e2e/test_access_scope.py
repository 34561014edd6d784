"""What a user may see: App Home honours slack.allowed_team_ids, and ``/smtp list`` with no
tenant shows only tenants whose ``channels`` allowlist admits the channel it is run in."""

from __future__ import annotations

import json

from tests.e2e.conftest import APPROVER, REQUESTER, Bot
from tests.e2e.test_walking_skeleton import _request
from tests.fakes.slack_user import SlackSender


def _listing(bot: Bot, channel: str) -> str:
    response, name = bot.sender.command("list", user=REQUESTER, channel=channel)
    assert response.status_code == 200
    return bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name)).args[
        "text"
    ]


def test_list_without_a_tenant_honours_each_tenants_channels(bot: Bot) -> None:
    bot.whm.add_account("scope1", "scope-one.test")
    bot.whm.add_mailbox("s@scope-one.test")
    bot.whm.add_mailbox("t@scope-one.test")
    grp_id, _, _ = _request(bot, "disable grp s@scope-one.test")  # grp: C0OPS and C0GRP only
    acme_id, _, _ = _request(bot, "disable acme t@scope-one.test")  # acme: any channel
    here = _listing(bot, "C0OPS")
    assert f"#{grp_id}" in here and f"#{acme_id}" in here
    elsewhere = _listing(bot, "C0RANDOM")
    assert f"#{acme_id}" in elsewhere
    assert f"#{grp_id}" not in elsewhere and "`grp`" not in elsewhere


def test_app_home_of_another_workspace_shows_nothing_of_any_tenant(bot: Bot) -> None:
    bot.whm.add_account("scope2", "scope-two.test")
    bot.whm.add_mailbox("h@scope-two.test")
    request_id, _, _ = _request(bot, "disable acme h@scope-two.test")
    stranger = SlackSender(
        bot.url, bot.sender.signing_secret, bot.sender.response_base, team_id="T0OTHER"
    )
    response = stranger.event(
        {"type": "app_home_opened", "user": APPROVER, "channel": "D0X", "tab": "home"}
    )
    assert response.status_code == 200
    published = bot.slack.wait_for_call(
        "views.publish",
        lambda c: c.args["user_id"] == APPROVER and "not available" in json.dumps(c.args),
    )
    view = json.dumps(published.args["view"])
    assert f"#{request_id}" not in view
    assert "acme" not in view and "activity" not in view and "smtp_approve" not in view
    # the same user from the allowed workspace sees the request
    bot.sender.event({"type": "app_home_opened", "user": APPROVER, "channel": "D0X", "tab": "home"})
    bot.slack.wait_for_call(
        "views.publish",
        lambda c: c.args["user_id"] == APPROVER and f"#{request_id}" in json.dumps(c.args),
    )
