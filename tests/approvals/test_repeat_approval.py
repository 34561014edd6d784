"""Approving twice counts once and says so, with how many approvals are still missing."""

from __future__ import annotations

from approvals import Database, RequestStatus
from tests.approvals.test_workflow import events, make, submit


def test_a_second_approval_by_the_same_person_is_marked_repeated(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf, tenant_wide=True)  # needs 2
    first = wf.approve(request_id, actor="UAPP1")
    assert (first.repeated, first.approved_now, first.missing) == (False, False, 1)
    again = wf.approve(request_id, actor="UAPP1")
    assert (again.repeated, again.approved_now, again.missing) == (True, False, 1)
    assert again.view.status is RequestStatus.PENDING
    assert events(wf, request_id).count("approved") == 1
    last = wf.approve(request_id, actor="UAPP2")
    assert (last.repeated, last.approved_now, last.missing) == (False, True, 0)
