"""Limits that hold under concurrency, through the signed Slack endpoint of `smtp-bot serve`:
the per-user request limit with WHM slow to answer, duplicate requests, and status reads.

Uses the default limits (20 change requests per 10 minutes, 10 status reads per minute,
100 targets per read), each part as its own Slack user."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import Bot


def _answers(bot: Bot, names: list[str], timeout: float = 60) -> dict[str, str]:
    """The final response_url answer of each command (the last one posted to it)."""
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, str] = {}
        for call in bot.slack.calls_to("response_url"):
            name = call.path.rsplit("/", 1)[1]
            if name in names:
                got[name] = call.args.get("text") or ""
        if len(got) == len(names) or time.monotonic() > deadline:
            assert len(got) == len(names), f"{len(names) - len(got)} commands got no answer"
            return got
        time.sleep(0.05)


def _send_at_once(bot: Bot, texts: list[str], user: str) -> list[str]:
    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        sent = list(pool.map(lambda t: bot.sender.command(t, user=user), texts))
    assert all(response.status_code == 200 for response, _ in sent)
    return [name for _response, name in sent]


def _stored(bot: Bot, requester: str) -> int:
    return bot.query(f"SELECT count(*) FROM change_request WHERE requester = '{requester}'")[0][0]


def test_thirty_requests_at_once_with_whm_slow_store_exactly_the_limit(bot: Bot) -> None:
    bot.whm.add_account("lim1", "lim-one.test")
    for n in range(30):
        bot.whm.add_mailbox(f"u{n}@lim-one.test")
    bot.whm.latency_s = 0.3  # the live check sits between the old count and the insert
    try:
        names = _send_at_once(
            bot, [f"disable acme u{n}@lim-one.test" for n in range(30)], user="U0BUSY"
        )
        answers = _answers(bot, names).values()
    finally:
        bot.whm.latency_s = 0.0
    assert _stored(bot, "U0BUSY") == 20
    assert sum("waiting for approval" in a for a in answers) == 20
    refused = [a for a in answers if "the limit is 20" in a]
    assert len(refused) == 10, [a for a in answers if "waiting" not in a][:3]


def test_identical_requests_give_one_card_and_name_it(bot: Bot) -> None:
    bot.whm.add_account("dup1", "dup-one.test")
    bot.whm.add_mailbox("bob@dup-one.test")
    bot.whm.add_mailbox("carol@dup-one.test")
    names = _send_at_once(bot, ["disable acme bob@dup-one.test"] * 10, user="U0DUP")
    answers = list(_answers(bot, names).values())
    assert _stored(bot, "U0DUP") == 1
    (request_id,) = [
        r[0] for r in bot.query("SELECT id FROM change_request WHERE requester = 'U0DUP'")
    ]
    refusal = f"Nothing was requested: #{request_id} already asks for this (see its card)"
    assert sum(refusal in a for a in answers) == 9, answers
    cards = [
        c
        for c in bot.slack.calls_to("chat.postMessage")
        if not c.args.get("thread_ts") and f"#{request_id}" in (c.args.get("text") or "")
    ]
    assert len(cards) == 1

    # once the card is posted, a repeat links to it
    (ts,) = [r[0] for r in bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")]
    _response, name = bot.sender.command("disable acme bob@dup-one.test", user="U0OTHER")
    again = _answers(bot, [name])[name]
    assert refusal in again
    assert f"https://test.example/archives/C0APPROVALS/p{ts.replace('.', '')}" in again

    # any verb: a target already pending is named, and nothing is stored
    _response, name = bot.sender.command(
        "hold acme carol@dup-one.test bob@dup-one.test", user="U0OTHER"
    )
    overlap = _answers(bot, [name])[name]
    assert f"`bob@dup-one.test` is already in pending #{request_id} (disable)" in overlap
    assert _stored(bot, "U0OTHER") == 0


def test_status_reads_are_limited_per_user_and_capped_in_targets(bot: Bot) -> None:
    bot.whm.add_account("st1", "st-one.test")
    bot.whm.add_mailbox("r@st-one.test")
    before = len(bot.whm.calls)
    names = _send_at_once(bot, ["status acme r@st-one.test"] * 12, user="U0READER")
    answers = list(_answers(bot, names).values())
    assert sum("Live state on `acme`" in a for a in answers) == 10
    refused = [a for a in answers if "the limit is 10" in a]
    assert len(refused) == 2, answers
    assert len(bot.whm.calls) > before

    # more targets than limits.status_targets_max: refused in the ack, nothing read
    many = " ".join(f"m{n}@st-one.test" for n in range(101))
    response, _name = bot.sender.command(f"status acme {many}", user="U0WIDE")
    assert response.status_code == 200
    assert "at most 100 targets, not 101" in response.json()["text"]
    _response, name = bot.sender.command("status acme r@st-one.test", user="U0WIDE")
    assert "Live state" in _answers(bot, [name])[name]  # the reader's reads were not used up
    assert not any("m0@st-one.test" in str(c.params) for c in bot.whm.calls)
