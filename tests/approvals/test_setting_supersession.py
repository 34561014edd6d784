"""A later request that sets the same server setting (any value) wins over an earlier timed
one: its revert is called off and would not touch that setting; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from approvals import Database, TargetRecord, TenantPolicy, Workflow
from approvals.models import Job
from tests.approvals.test_workflow import Clock

POLICY = TenantPolicy(approvers=frozenset({"UAPP1", "UAPP2", "UREQ"}))


def _done(wf: Workflow, targets: list[str], *, timed: bool) -> int:
    view = wf.submit(
        tenant="acme",
        verb="set",
        targets=targets,
        reason="outbreak",
        requester="UREQ",
        tenant_wide=True,
        revert_verb="set" if timed else None,
        revert_after=timedelta(hours=1) if timed else None,
    )
    wf.approve(view.id, actor="UAPP1")
    wf.approve(view.id, actor="UAPP2")
    wf.begin_execution(view.id)
    records = [TargetRecord(t, True, "set", {"previous": "300"}) for t in targets]
    wf.finish_execution(view.id, records)
    return view.id


def _revert_state(wf: Workflow, request_id: int) -> list[str]:
    with wf.db.read() as s:
        rows = s.exec(select(Job).where(Job.request_id == request_id, Job.kind == "revert"))
        return [j.state for j in rows]


def test_a_later_set_of_the_same_key_calls_off_the_revert(db: Database) -> None:
    wf = Workflow(db, lambda _tenant: POLICY, clock=Clock())
    timed = _done(wf, ["setting:maxemailsperhour=25", "setting:nobody_spam=on"], timed=True)
    other = _done(wf, ["setting:nobodyxspam=off"], timed=False)  # "_" is no wildcard
    assert _revert_state(wf, timed) == ["queued"]
    _, keys = wf.begin_revert(timed)
    assert keys == ["setting:maxemailsperhour=25", "setting:nobody_spam=on"], other
    later = _done(wf, ["setting:maxemailsperhour=60"], timed=False)
    _, keys = wf.begin_revert(timed)
    assert keys == ["setting:nobody_spam=on"], later  # the later set decides the limit
    _done(wf, ["setting:nobody_spam=off"], timed=False)
    assert _revert_state(wf, timed) == ["cancelled"]
