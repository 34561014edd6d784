"""A request nobody but its requester could approve is refused with the numbers, user
groups resolved through Slack (issue 14, item 1, at request time)."""

from __future__ import annotations

from tests.e2e.conftest import APPROVER, GROUPIE, Bot


def _answer(bot: Bot, text: str, user: str) -> str:
    response, name = bot.sender.command(text, user=user, channel="C0GRP")
    assert response.status_code == 200
    call = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    return call.args["text"]


def test_a_whole_tenant_change_nobody_else_can_approve_is_refused(bot: Bot) -> None:
    before = bot.query("SELECT count(*) FROM change_request WHERE tenant = 'grp'")[0][0]
    # grp: approvers S0ONCALL (= GROUPIE) and APPROVER; a whole-server change needs 2
    text = _answer(bot, "disable grp --reason outbreak", user=APPROVER)
    assert text == (
        ":warning: Nothing was requested: A whole-tenant change for grp needs 2 approvals from "
        f"people other than you, and only 1 can give one ({GROUPIE}). Ask an admin to add "
        "approvers for this tenant."
    )
    after = bot.query("SELECT count(*) FROM change_request WHERE tenant = 'grp'")[0][0]
    assert after == before
    refused = bot.query(
        "SELECT detail FROM audit_event WHERE event = 'refused_input' AND tenant = 'grp' "
        "ORDER BY id DESC LIMIT 1"
    )
    assert "needs 2 approvals" in refused[0][0]


def test_the_same_change_by_someone_who_is_not_an_approver_is_stored(bot: Bot) -> None:
    text = _answer(bot, "disable grp --reason outbreak", user="U0SOMEONE")
    assert "Nothing was requested" not in text
