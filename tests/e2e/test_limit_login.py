"""`/smtp disable|enable … --login` and `/smtp limit` end to end: signed commands, the card
(what it does, the package warning), the approval, WHM changed and read back, --for putting
things back, and bad input refused with nothing stored."""

from __future__ import annotations

import json

from tests.e2e.conftest import APPROVER, Bot
from tests.e2e.test_tweaks import _card, _refused, _result
from tests.e2e.test_walking_skeleton import _request, _wait_status
from tests.e2e.test_workflow_surface import _reply


def _approve(bot: Bot, request_id: int, channel: str, ts: str) -> None:
    response = bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts
    )
    assert response.status_code == 200


def _states(bot: Bot, request_id: int) -> dict[str, dict]:
    rows = bot.query(f"SELECT target, state FROM request_target WHERE request_id={request_id}")
    return {target: json.loads(state) for target, state in rows}


def _requests(bot: Bot) -> int:
    return bot.query("SELECT count(*) FROM change_request")[0][0]


def _ended(bot: Bot, ts: str) -> str:
    call = bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "timed restriction" in c.args["text"],
        timeout=15,
    )
    return str(call.args["text"])


def test_disable_login_suspends_both_and_reads_them_back(bot: Bot) -> None:
    bot.whm.add_account("lgn1", "login-one.test")
    bot.whm.add_mailbox("stolen@login-one.test")
    request_id, channel, ts = _request(
        bot, 'disable acme stolen@login-one.test --login --reason "password leaked"'
    )
    card = _card(bot, request_id)
    assert "`stolen@login-one.test` (login)" in card and "Includes the login" in card
    assert "SMTP AUTH" in card
    assert bot.whm.mailbox_state("stolen@login-one.test")["suspended_login"] == 0
    _approve(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    state = bot.whm.mailbox_state("stolen@login-one.test")
    assert (state["suspended_outgoing"], state["suspended_login"]) == (1, 1)
    result = _result(bot, ts)
    assert "2 succeeded, 0 failed" in result
    assert "`stolen@login-one.test` (login): login suspended" in result
    assert "Includes the login" in result
    states = _states(bot, request_id)
    assert states["login:stolen@login-one.test"]["suspended_login"] == 1
    assert states["login:stolen@login-one.test"]["verified"] is True
    assert states["stolen@login-one.test"]["suspended_outgoing"] == 1
    (call,) = bot.whm.calls_to("Email::suspend_login")
    assert call.params["email"] == "stolen@login-one.test"
    assert bot.whm.limits.unexpected == []


def test_enable_login_lifts_both(bot: Bot) -> None:
    bot.whm.add_account("lgn2", "login-two.test")
    bot.whm.add_mailbox("back@login-two.test", suspended_outgoing=1, suspended_login=1)
    request_id, channel, ts = _request(bot, "enable acme back@login-two.test --login")
    assert "lifted" in _card(bot, request_id)
    _approve(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    state = bot.whm.mailbox_state("back@login-two.test")
    assert (state["suspended_outgoing"], state["suspended_login"]) == (0, 0)
    assert "`back@login-two.test` (login): login allowed" in _result(bot, ts)


def test_a_timed_login_disable_lifts_both_when_it_ends(bot: Bot) -> None:
    bot.whm.add_account("lgn3", "login-three.test")
    bot.whm.add_mailbox("brief@login-three.test")
    request_id, channel, ts = _request(bot, "disable acme brief@login-three.test --login --for 2s")
    assert "then enable automatically" in _card(bot, request_id)
    _approve(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.mailbox_state("brief@login-three.test")["suspended_login"] == 1
    ended = _ended(bot, ts)
    assert "enable on 2 of 2" in ended
    state = bot.whm.mailbox_state("brief@login-three.test")
    assert (state["suspended_outgoing"], state["suspended_login"]) == (0, 0)


def test_limit_sets_the_hourly_limit_and_reads_it_back(bot: Bot) -> None:
    bot.whm.add_account("lim1", "limit-one.test")
    bot.whm.limits.limits["lim1"] = "500"
    request_id, channel, ts = _request(bot, 'limit acme account:lim1 100 --reason "throttle"')
    card = _card(bot, request_id)
    assert "`account:lim1` → 100 an hour" in card and "Maximum Hourly Email" in card
    assert "Before you approve" not in card  # no package: nothing to warn of
    assert bot.whm.limits.limits["lim1"] == "500"
    _approve(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.limits.limits["lim1"] == "100"
    assert "was 500 an hour, now 100 an hour (read back)" in _result(bot, ts)
    (call,) = [c for c in bot.whm.calls_to("modifyacct") if c.params.get("user") == "lim1"]
    assert call.params["MAX_EMAIL_PER_HOUR"] == "100"
    assert bot.whm.limits.ignored == []
    facts = _states(bot, request_id)["limit:lim1=100"]
    assert (facts["value"], facts["previous"], facts["verified"]) == ("100", "500", True)
    assert f"#{request_id}" in _reply(bot, "history acme account:lim1")  # the account's story
    status = _reply(bot, "status acme account:lim1")
    assert "hourly limit per domain: 100 an hour" in status


def test_limit_for_restores_the_previous_value(bot: Bot) -> None:
    bot.whm.add_account("lim2", "limit-two.test")
    bot.whm.add_account("lim3", "limit-three.test")
    bot.whm.limits.limits["lim2"] = "250"  # lim3 has no account value: the server's applies
    request_id, channel, ts = _request(bot, "limit acme account:lim2 account:lim3 10 --for 2s")
    assert "then each previous limit put back automatically" in _card(bot, request_id)
    _approve(bot, request_id, channel, ts)
    _wait_status(bot, request_id, "succeeded")
    assert (bot.whm.limits.limits["lim2"], bot.whm.limits.limits["lim3"]) == ("10", "10")
    assert "limit on 2 of 2" in _ended(bot, ts)
    assert bot.whm.limits.limits["lim2"] == "250"
    assert "lim3" not in bot.whm.limits.limits  # back to no account value
    restores = [c.params for c in bot.whm.calls_to("modifyacct") if c.params["user"] == "lim3"]
    assert restores[-1]["MAX_EMAIL_PER_HOUR"] == "default"


def test_limit_warns_on_the_card_when_the_account_has_a_package(bot: Bot) -> None:
    bot.whm.add_account("lim4", "limit-four.test")
    bot.whm.limits.plans["lim4"] = "reseller_gold"
    request_id, _channel, _ts = _request(bot, "limit acme account:lim4 unlimited")
    card = _card(bot, request_id)
    assert "Before you approve" in card and "hosting package “reseller_gold”" in card
    assert "`account:lim4` → unlimited" in card
    (note,) = bot.query(f"SELECT note FROM change_request WHERE id={request_id}")[0]
    assert "reseller_gold" in note
    (detail,) = bot.query(
        f"SELECT detail FROM audit_event WHERE request_id={request_id} AND event='requested'"
    )[0]
    assert "reseller_gold" in json.loads(detail)["note"]  # the warning is in the audit trail


def test_bad_limit_and_login_input_is_refused_and_nothing_is_stored(bot: Bot) -> None:
    bot.whm.add_account("lim5", "limit-five.test")
    bot.whm.add_mailbox("m@limit-five.test")
    before, modifies = _requests(bot), len(bot.whm.calls_to("modifyacct"))
    for text, words in (
        ("limit acme account:lim5 0", "is not a limit"),
        ("limit acme account:lim5 1000001", "is not a limit"),
        ("limit acme account:lim5 -5", "is not a limit"),
        ("limit acme account:lim5 ten", "is not a limit"),
        ("limit acme account:lim5", "then a number or unlimited"),
        ("limit acme m@limit-five.test 100", "is not account:NAME"),
        ("limit acme account:lim5&x=1 100", "not a valid cPanel account name"),
        ("limit acme account:lim5 100%26MAX_EMAIL_PER_HOUR=1", "is not a limit"),
        ("limit acme limit:lim5=5 100", "changed with /smtp limit"),
        ("disable acme account:lim5 --login", "mailboxes (user@domain) only"),
        ("disable acme --login", "not the whole server"),
        ("hold acme m@limit-five.test --login", "--login only goes with disable or enable"),
        ("disable acme login:m@limit-five.test", "--login"),
        ("disable contoso printer@contoso.example --login", "WHM tenants only"),
        ("limit contoso account:lim5 100", "WHM tenants only"),
    ):
        assert words in _refused(bot, text), text
    unknown = _reply(bot, "limit acme account:nosuch 100")
    assert "Nothing was requested" in unknown and "nosuch" in unknown
    assert _requests(bot) == before
    assert len(bot.whm.calls_to("modifyacct")) == modifies
    assert bot.whm.mailbox_state("m@limit-five.test")["suspended_login"] == 0
