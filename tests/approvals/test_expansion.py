"""A group target replaced by its members once, in one transaction, while executing: the
facts stored with each member, members finished at once, the plan, the audit trail, and a
second expansion (a resumed run) that changes nothing."""

from __future__ import annotations

import json

import pytest

from approvals import Database, InvalidTransition, TargetRecord, TenantPolicy, Workflow
from approvals.expansion import Member


def _executing(db: Database) -> tuple[Workflow, int]:
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})))
    view = wf.submit(
        tenant="acme", verb="disable", targets=["grp:*"], reason="", requester="UREQ", plan="{}"
    )
    wf.approve(view.id, actor="UAPP")
    assert wf.begin_execution(view.id) is not None
    return wf, view.id


def test_members_replace_the_group_with_their_facts(db: Database) -> None:
    wf, request_id = _executing(db)
    done = TargetRecord("m:b", ok=True, message="already so", state={"x": 1})
    view = wf.expand_target(
        request_id,
        "grp:*",
        [Member("m:a", facts={"before": 0}), Member("m:b", done=done), Member("m:a")],
        plan='{"listed": 2}',
    )
    rows = [(t.target, t.outcome, t.state, t.message) for t in view.targets]
    assert rows == [
        ("m:a", "pending", json.dumps({"before": 0}), None),
        ("m:b", "succeeded", json.dumps({"x": 1}), "already so"),
    ]
    assert view.request.plan == '{"listed": 2}'
    events = [e.event for e in wf.history(tenant="acme", limit=50)]
    assert "targets_expanded" in events and "target_succeeded" in events
    assert wf.planned("acme", "disable")[0].id == request_id


def test_a_second_expansion_keeps_the_first(db: Database) -> None:
    wf, request_id = _executing(db)
    wf.expand_target(request_id, "grp:*", [Member("m:a", facts={"before": 0})])
    again = wf.expand_target(request_id, "grp:*", [Member("m:z")], plan="changed")
    assert [t.target for t in again.targets] == ["m:a"]
    assert again.request.plan == "{}"


def test_only_an_executing_request_is_expanded(db: Database) -> None:
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})))
    view = wf.submit(tenant="acme", verb="disable", targets=["grp:*"], reason="", requester="U")
    with pytest.raises(InvalidTransition):
        wf.expand_target(view.id, "grp:*", [Member("m:a")])
    assert [t.target for t in wf.get(view.id).targets] == ["grp:*"]


def test_a_member_a_later_request_changed_is_left_to_it(db: Database) -> None:
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})))
    group = wf.submit(tenant="acme", verb="disable", targets=["grp:*"], reason="", requester="U")
    later = wf.submit(tenant="acme", verb="enable", targets=["m:b"], reason="", requester="U")
    for view in (later, group):
        wf.approve(view.id, actor="UAPP")
    wf.begin_execution(later.id)
    wf.finish_execution(later.id, [TargetRecord("m:b", ok=True, message="enabled")])
    wf.begin_execution(group.id)  # the group request runs after the later one
    view = wf.expand_target(group.id, "grp:*", [Member("m:a"), Member("m:b")])
    outcomes = {t.target: (t.outcome, t.message) for t in view.targets}
    assert outcomes == {
        "m:a": ("pending", None),
        "m:b": ("failed", f"skipped: #{later.id} changed it later"),
    }
