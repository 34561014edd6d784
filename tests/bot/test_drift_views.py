"""The drift notice: what changed for each target, within Slack's limits, with one Re-apply
button; and what a re-applied timed change keeps of its end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from approvals import RequestView
from approvals.drift import Watch
from approvals.models import ChangeRequest, RequestTarget
from bot.slack.drift import REAPPLY_ACTION, _remaining, drift_message

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _view(n: int) -> tuple[RequestView, list[Watch]]:
    request = ChangeRequest(
        id=12, tenant="acme", verb="disable", requester="U0REQ", expires_at=NOW, status="succeeded"
    )
    targets = tuple(
        RequestTarget(
            request_id=12,
            position=i,
            target=f"u{i}@x.test",
            outcome="succeeded",
            message="outgoing mail suspended",
        )
        for i in range(n)
    )
    watches = [
        Watch(
            id=i,
            request_id=12,
            tenant="acme",
            verb="disable",
            target=f"u{i}@x.test",
            expected={"suspended_outgoing": 1},
            seen_right_at=NOW - timedelta(minutes=15),
            drifted_at=NOW,
            observed={"facts": {"suspended_outgoing": 0}, "summary": "outgoing mail allowed"},
        )
        for i in range(n)
    ]
    return RequestView(request, targets, ()), watches


def test_a_notice_says_expected_now_and_last_seen_right_with_one_button() -> None:
    view, watches = _view(1)
    text, blocks = drift_message(view, watches)
    assert text == "Drift on acme: request #12 no longer holds on 1 target(s)"
    body = blocks[0]["text"]["text"]
    assert "what request #12 (disable) applied no longer holds on 1 target;" in body
    assert (
        "• `u0@x.test`: expected _outgoing mail suspended_, now _outgoing mail allowed_ "
        "(`suspended_outgoing 1 → 0`); last seen right <!date^"
    ) in body
    (button,) = blocks[2]["elements"]
    assert (button["action_id"], button["value"]) == (REAPPLY_ACTION, "12")


def test_many_targets_stay_in_three_blocks_and_are_counted() -> None:
    view, watches = _view(300)
    _text, blocks = drift_message(view, watches)
    assert len(blocks) == 3
    body = blocks[0]["text"]["text"]
    assert len(body) <= 2900 and "300 targets" in body
    lines = body.count("\n• ")
    assert 5 <= lines <= 20 and body.endswith(f"\n… and {300 - lines} more")
    assert json.dumps(blocks).count(REAPPLY_ACTION) == 1


def test_a_reapplied_timed_change_keeps_its_end() -> None:
    assert _remaining(None, NOW) is None
    assert _remaining(NOW - timedelta(seconds=1), NOW) is None  # over: re-applied for good
    assert _remaining(NOW + timedelta(minutes=90, seconds=10), NOW) == timedelta(minutes=91)
    assert _remaining(NOW + timedelta(seconds=5), NOW) == timedelta(minutes=1)
