"""Cards and result posts stay within Slack's limits and carry only the request ID."""

from __future__ import annotations

import json

from approvals import Database, TargetRecord, TenantPolicy, Workflow
from bot.slack.views import card, result_text


def _view(db: Database, targets: list[str], *, reason: str = "spam <!channel> & co"):
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})))
    view = wf.submit(
        tenant="acme", verb="disable", targets=targets, reason=reason, requester="UREQ"
    )
    return wf, view


def test_pending_card_has_buttons_with_only_the_id(db: Database) -> None:
    _, view = _view(db, ["a@x.test"])
    text, blocks = card(view)
    assert f"#{view.id}" in text
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert [e["value"] for e in actions["elements"]] == [str(view.id)] * 3
    rendered = json.dumps(blocks)
    assert "&lt;!channel&gt; &amp; co" in rendered  # user text cannot ping the channel
    assert "0 of 1 approvals" in rendered


def test_bulk_card_and_result_are_bounded(db: Database) -> None:
    targets = [f"user{i}@x.test" for i in range(1000)]
    wf, view = _view(db, targets)
    _, blocks = card(view)
    assert len(blocks) <= 50
    assert "and 990 more" in json.dumps(blocks)
    wf.approve(view.id, actor="UAPP")
    wf.begin_execution(view.id)
    final = wf.finish_execution(
        view.id,
        [
            TargetRecord(t, i % 100 != 0, "suspended" if i % 100 else "token rejected")
            for i, t in enumerate(targets)
        ],
    )
    text = result_text(final)
    assert len(text) < 4000
    assert "990 succeeded, 10 failed" in text
    assert text.index("user0@x.test") < text.index("user1@x.test")  # failures first
    _, done = card(final)
    assert all(b["type"] != "actions" for b in done)
    assert "990 of 1000 targets succeeded" in json.dumps(done)
