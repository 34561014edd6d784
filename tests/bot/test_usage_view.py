"""The /smtp usage answer: within Slack's limits however many users, worst first, the
impact of an org-wide disable in words, and the button named as the issue names it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from approvals.proposals import Offer
from bot.commands.usage import UsageAnswer
from bot.slack.usage_view import USAGE_ACTION, button_text, usage_message
from providers.microsoft.smtp_usage import Impact, UsageReport, UsageRow, UserSignIns
from providers.targets import Target

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _row(user: str, impact: Impact, own: bool | None, count: int = 3) -> UsageRow:
    usage = UserSignIns(user, count, NOW - timedelta(hours=1), ("203.0.113.1", "203.0.113.2"))
    target = Target.parse(user) if "@" in user and impact is not Impact.UNKNOWN else None
    return UsageRow(usage, impact, own, target, "no mailbox" if impact is Impact.UNKNOWN else "")


def _answer(rows: list[UsageRow], *, offer: bool = True, org: bool | None = False) -> UsageAnswer:
    report = UsageReport(NOW - timedelta(days=7), tuple(rows), org, pages=2)
    keep = report.exceptions
    made = Offer(
        id=42,
        tenant="contoso",
        verb="disable",
        targets=(*((t.key(), "enable") for t in keep), ("*", None)),
        reason="",
        tenant_wide=True,
        offered_to="U0REQ",
        expires_at=NOW + timedelta(hours=1),
        request_id=None,
    )
    return UsageAnswer(
        "contoso",
        timedelta(days=7),
        NOW,
        report,
        made if offer else None,
        "" if offer else "SMTP AUTH is already off for the whole organisation.",
    )


def test_the_answer_names_who_breaks_who_stays_and_offers_the_request() -> None:
    rows = [
        _row("scanner@contoso.com", Impact.BREAKS, None, 9),
        _row("ghost@contoso.com", Impact.UNKNOWN, None),
        _row("erp@contoso.com", Impact.STAYS, False),
        _row("old@contoso.com", Impact.BLOCKED, True),
    ]
    text, blocks = usage_message(_answer(rows))
    body = json.dumps(blocks, ensure_ascii=False)
    assert "4 user(s), 18 successful sign-in(s)" in text + body
    assert "1 would break: their own setting is `$null`" in body
    assert "1 stay allowed: their own setting is `$false`" in body
    assert "1 are blocked already" in body and "1 could not be read" in body
    button = blocks[-2]["elements"][0]
    assert button["action_id"] == USAGE_ACTION and button["value"] == "42"
    assert button["text"]["text"] == "Request org-wide disable, keeping these 2"
    assert body.index("scanner@contoso.com") < body.index("erp@contoso.com")  # worst first


def test_many_users_stay_within_fifty_blocks_and_the_rest_are_counted() -> None:
    rows = [_row(f"app{i}@contoso.com", Impact.BREAKS, None) for i in range(400)]
    _, blocks = usage_message(_answer(rows))
    assert len(blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    body = json.dumps(blocks, ensure_ascii=False)
    assert "… and 375 more user(s) (375 of them would break)" in body
    assert button_text(400) == "Request org-wide disable, keeping these 400"


def test_no_offer_says_why_and_hostile_names_are_escaped() -> None:
    rows = [_row("<!channel>", Impact.UNKNOWN, None)]
    _, blocks = usage_message(_answer(rows, offer=False, org=True))
    body = json.dumps(blocks, ensure_ascii=False)
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body
    assert not any(b["type"] == "actions" for b in blocks)
    assert "already off for the whole organisation" in body


def test_help_lists_usage_where_an_exchange_tenant_is_configured() -> None:
    from bot.commands.messages import help_text, usage_for

    assert "/smtp usage <tenant> [--since 7d]" in help_text(["contoso"], None, {"reset", "status"})
    assert "/smtp usage" not in help_text(["acme"], None, {"disable", "hold", "status"})
    assert "at most 30d" in usage_for("usage")


def test_the_usage_press_is_a_task_with_its_own_dedupe_key() -> None:
    from bot.slack.task import USAGE_REQUEST, Task

    body = {
        "user": {"id": "U0REQ", "team_id": "T0TEST"},
        "trigger_id": "1.2.abc",
        "container": {"type": "message", "channel_id": "C0OPS", "is_ephemeral": True},
        "response_url": "https://hooks.example/r/1",
    }
    action = {"action_id": USAGE_ACTION, "value": "42", "action_ts": "1700000000.1"}
    task = Task.usage_request(body, action)
    assert task is not None and task.kind == USAGE_REQUEST
    assert task.args["offer_id"] == 42 and task.args["channel"] == "C0OPS"
    assert task.key == f"press:1.2.abc:1700000000.1:{USAGE_ACTION}"
    assert Task.from_line(task.to_json()) == task
    assert Task.usage_request(body, {**action, "value": "42; DROP"}) is None
