"""``/smtp history`` says every audit event in words (issue 14 item 8): each event name the
code records has a sentence, and an unknown one still reads as words."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from approvals.limits import READ_EVENT
from approvals.models import AuditEvent, RequestStatus
from bot.slack.history import SENTENCES, event_line, history_text

ROOT = Path(__file__).resolve().parents[2]


def _recorded_event_names() -> set[str]:
    """Every event name the code passes to ``audit.record`` (literal, f"refused_{step}",
    a status value, or an ``audit_event`` class attribute)."""
    names: set[str] = set()
    for path in (ROOT / "approvals").glob("*.py"):
        text = path.read_text()
        for call in re.finditer(r"audit\.record\(\s*s,\s*([^,]+),", text):
            arg = call.group(1).strip()
            names.update(re.findall(r'"(\w+)"', arg))
            if arg.startswith('f"refused_{step}"'):
                names.update({"refused_approve", "refused_deny", "refused_cancel"})
        names.update(re.findall(r'audit_event = "(\w+)"', text))
    names.update({"succeeded", "failed", "denied", "cancelled"})  # request.status / status.value
    return names - {READ_EVENT}


def _event(name: str, **kw: object) -> AuditEvent:
    detail = kw.pop("detail", None)
    return AuditEvent(
        event=name,
        actor=str(kw.pop("actor", "U0ALICE")),
        tenant="acme",
        request_id=kw.pop("request_id", 3),
        target=kw.pop("target", None),
        detail=json.dumps(detail) if detail is not None else None,
        at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_every_recorded_event_has_a_sentence() -> None:
    names = _recorded_event_names()
    assert {"requested", "gave_up", "target_skipped", "revert_gave_up"} <= names  # the scan works
    assert names <= set(SENTENCES), names - set(SENTENCES)


@pytest.mark.parametrize("name", sorted(SENTENCES))
def test_no_sentence_shows_a_raw_name_or_a_placeholder(name: str) -> None:
    line = event_line(_event(name, target="a@x.test", detail={"verb": "disable"}))
    assert "_" not in line and "{" not in line and "None" not in line, line


def test_refusal_reasons_are_said() -> None:
    own = event_line(_event("refused_approve", detail={"reason": "self_approval"}))
    assert own == "<@U0ALICE> tried to approve #3; refused: requester cannot approve own request"
    late = _event("refused_deny", detail={"reason": "not_pending", "status": "expired"})
    assert event_line(late).endswith("refused: #3 has already expired")
    outsider = event_line(_event("refused_approve", detail={"reason": "not_an_approver"}))
    assert outsider.endswith("refused: U0ALICE is not an approver for acme")


def test_a_request_line_has_verb_targets_duration_and_reason() -> None:
    detail = {"verb": "hold", "reason": "spam <wave>", "targets": ["a@x.test", "*"]}
    line = event_line(_event("requested", detail={**detail, "revert_after_s": 3600}))
    assert line == (
        "<@U0ALICE> requested #3: hold `a@x.test`, the whole server for 1h; "
        "reason: spam &lt;wave&gt;"
    )


def test_the_bot_is_named_as_the_bot_and_failures_keep_their_message() -> None:
    line = event_line(
        _event(
            "target_failed",
            actor="system",
            target="a@x.test",
            detail={"message": "WHM answered HTTP 503 to getdomainowner"},
        )
    )
    assert line == "Change `a@x.test` (#3) failed: WHM answered HTTP 503 to getdomainowner"
    gave_up = event_line(_event("gave_up", actor="system", detail={"message": "m", "attempts": 5}))
    assert gave_up.startswith("The bot gave up on #3") and "after 5 attempt(s): m" in gave_up


def test_an_unknown_event_reads_as_words() -> None:
    line = event_line(_event("quota_reset_done", target="a@x.test"))
    assert "quota_reset_done" not in line
    assert line == "<@U0ALICE>: quota reset done #3 `a@x.test`"


def test_history_is_newest_first_as_given_and_says_when_empty() -> None:
    events = [_event("expired", actor="system"), _event("requested", detail={"verb": "enable"})]
    text = history_text(events, "acme", None)
    lines = text.splitlines()
    assert lines[0] == "*History of `acme`, newest first:*"
    assert lines[1].startswith("• 2026-01-02 03:04:05Z #3")
    assert "expired" in lines[1] and "requested #3: enable" in lines[2]
    assert history_text([], "acme", "a@x") == "No history for `acme`, `a@x`."
    assert RequestStatus.EXPIRED.value in SENTENCES
