"""A failed change says, per target, whether it changed and what to do now (issue 14 item
12), from what the workflow recorded: a verified success, or the error's kind."""

from __future__ import annotations

import json

import pytest

from approvals import Database, TargetRecord, TenantPolicy, Workflow
from bot.slack.aftermath import Change, change_of, change_summary
from bot.slack.views import result_text


def _finished(db: Database, records: list[TargetRecord]):
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})))
    view = wf.submit(
        tenant="acme",
        verb="disable",
        targets=[r.target for r in records],
        reason="r",
        requester="UREQ",
    )
    wf.approve(view.id, actor="UAPP")
    wf.begin_execution(view.id)
    return wf.finish_execution(view.id, records)


def _failed(target: str, kind: str) -> TargetRecord:
    return TargetRecord(target, False, f"{kind} happened", error={"kind": kind, "detail": ""})


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("not_found", Change.UNCHANGED),
        ("invalid_target", Change.UNCHANGED),
        ("ambiguous", Change.UNCHANGED),
        ("auth", Change.UNCHANGED),
        ("rejected", Change.UNCHANGED),
        ("unavailable", Change.UNKNOWN),
        ("protocol", Change.UNKNOWN),
        ("verification_failed", Change.UNKNOWN),
        ("internal", Change.UNKNOWN),
    ],
)
def test_the_recorded_error_kind_says_whether_a_target_changed(
    db: Database, kind: str, change: Change
) -> None:
    final = _finished(db, [_failed("a@x.test", kind)])
    (target,) = final.targets
    assert json.loads(target.state or "{}") == {"error_kind": kind}
    assert change_of(target) is change
    text = result_text(final)
    if change is Change.UNCHANGED:
        assert "nothing was changed on this target" in text
        assert change_summary(final) == "Nothing was changed."
    else:
        assert "it may or may not have changed: check with `/smtp status acme a@x.test`" in text
        assert change_summary(final) == "Unknown (check their status): `a@x.test`."


def test_verified_successes_changed_and_a_dry_run_did_not(db: Database) -> None:
    final = _finished(
        db,
        [
            TargetRecord("a@x.test", True, "outgoing mail suspended", state={"verified": True}),
            TargetRecord("b@x.test", True, "dry run", state={"dry_run_planned": ["call"]}),
            _failed("c@x.test", "unavailable"),
        ],
    )
    changes = {t.target: change_of(t) for t in final.targets}
    assert changes == {
        "a@x.test": Change.CHANGED,
        "b@x.test": Change.UNCHANGED,
        "c@x.test": Change.UNKNOWN,
    }
    assert change_summary(final) == (
        "Not changed: `b@x.test`. Unknown (check their status): `c@x.test`. Changed: `a@x.test`."
    )


def test_a_request_that_succeeded_everywhere_adds_nothing(db: Database) -> None:
    final = _finished(db, [TargetRecord("a@x.test", True, "ok", state={"verified": True})])
    assert change_summary(final) == ""
    assert "changed" not in result_text(final).lower()
