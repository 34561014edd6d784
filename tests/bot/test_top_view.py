"""The ``/smtp top`` answer: under 50 blocks at the most rows, WHM's text escaped, estimates
marked, and a button only for what the bot can target."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.commands.grammar_top import TOP_MAX_ROWS
from bot.slack.top_view import TOP_DISABLE_ACTION, top_message, top_modal
from providers.whm_tracking import TopReport, TopRow


def _row(address: str | None, account: str = "acct", **kw: object) -> TopRow:
    base: dict[str, object] = dict(
        account=account,
        address=address,
        sent=10,
        deferfail=1,
        auth="dovecot_login",
        top_ip="203.0.113.1",
        hit_limit=False,
        hit_deferfail_limit=False,
        queued=0,
    )
    base.update(kw)
    return TopRow(**base)  # type: ignore[arg-type]


def _report(rows: list[TopRow], *, complete: bool = True) -> TopReport:
    return TopReport(0, 3600, tuple(rows), 100, complete, 100, 0)


def test_the_most_rows_stay_under_fifty_blocks() -> None:
    rows = [_row(f"u{i}@x.test", sent=1000 - i) for i in range(TOP_MAX_ROWS)]
    _text, blocks = top_message("acme", _report(rows, complete=False), timedelta(hours=1))
    assert len(blocks) <= 50
    buttons = [b["accessory"] for b in blocks if "accessory" in b]
    assert len(buttons) == TOP_MAX_ROWS
    assert {b["action_id"] for b in buttons} == {TOP_DISABLE_ACTION}
    assert "≈ estimated" in json.dumps(blocks, ensure_ascii=False)


def test_text_from_whm_is_escaped_and_odd_names_get_no_button() -> None:
    hostile = _row("a<!channel>&b@x.test", account="ev<il>", top_ip="<@U123>")
    script = _row(None, account="wp", auth="localuser", top_ip="127.0.0.1")
    _text, blocks = top_message("acme", _report([hostile, script]), timedelta(hours=2))
    dumped = json.dumps(blocks)
    assert "<!channel>" not in dumped and "<@U123>" not in dumped and "ev<il>" not in dumped
    rows = [b for b in blocks if b.get("block_id", "").startswith("top-")]
    assert "accessory" not in rows[0] and "No button" in rows[0]["text"]["text"]
    assert rows[1]["accessory"]["value"] == "acme account:wp"
    assert "a local script" in rows[1]["text"]["text"]


def test_no_mail_in_the_window_is_said() -> None:
    text, blocks = top_message("acme", _report([]), timedelta(hours=1))
    assert "No outgoing mail tracked" in json.dumps(blocks)
    assert "Top senders on" in text


def test_the_dialog_carries_tenant_target_and_channel_and_needs_a_reason() -> None:
    modal = top_modal("acme", "account:wp", "C0OPS")
    assert json.loads(modal["private_metadata"]) == {
        "tenant": "acme",
        "target": "account:wp",
        "channel": "C0OPS",
    }
    (field,) = [b for b in modal["blocks"] if b["type"] == "input"]
    assert not field.get("optional") and field["element"]["max_length"] == 500
