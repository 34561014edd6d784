"""One request, two verbs: targets with a verb of their own, run as steps in position order;
duplicates, supersession and offers (proposals) stay correct. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals import Database, TargetRecord, Workflow
from approvals.errors import DuplicateRequest, ProposalUnavailable, TargetsPending
from approvals.models import TargetOutcome
from approvals.steps import is_mixed, steps, verb_of
from approvals.supersession import superseded_many
from tests.approvals.test_workflow import POLICY, Clock, make

EXCEPTIONS = ["scanner@x.test", "erp@x.test"]


def _combined(wf: Workflow, **kw) -> int:
    view = wf.submit(
        tenant="acme",
        verb="disable",
        targets=[*EXCEPTIONS, "*"],
        target_verbs=["enable", "enable", None],
        reason="org-wide disable, keeping 2",
        requester="UREQ",
        tenant_wide=True,
        **kw,
    )
    return view.id


def test_targets_keep_their_own_verb_and_form_steps_in_order(db: Database) -> None:
    wf = make(db)
    view = wf.get(_combined(wf))
    assert [t.verb for t in view.targets] == ["enable", "enable", None]
    assert [verb_of(view.request, t) for t in view.targets] == ["enable", "enable", "disable"]
    assert is_mixed(view)
    plan = steps(view)
    assert [(s.verb, [t.target for t in s.targets]) for s in plan] == [
        ("enable", EXCEPTIONS),
        ("disable", ["*"]),
    ]
    requested = [e for e in wf.history(tenant="acme") if e.event == "requested"][0]
    assert '"target_verbs": {"erp@x.test": "enable", "scanner@x.test": "enable"}' in (
        requested.detail or ""
    )
    plain = wf.get(
        wf.submit(
            tenant="acme", verb="disable", targets=["z@x.test"], reason="", requester="UREQ"
        ).id
    )
    assert not is_mixed(plain) and len(steps(plain)) == 1


def test_a_duplicate_needs_the_same_verb_for_every_target(db: Database) -> None:
    wf = make(db)
    first = _combined(wf)
    with pytest.raises(DuplicateRequest) as same:
        _combined(wf)
    assert same.value.request_id == first
    with pytest.raises(TargetsPending):  # same targets, other verbs: an overlap, not a copy
        wf.submit(
            tenant="acme",
            verb="disable",
            targets=[*EXCEPTIONS, "*"],
            reason="",
            requester="UREQ",
            tenant_wide=True,
        )


def test_several_verbs_and_a_timed_revert_do_not_mix(db: Database) -> None:
    wf = make(db)
    with pytest.raises(ValueError):
        _combined(wf, revert_verb="enable", revert_after=timedelta(hours=1))


def test_a_later_exception_supersedes_and_its_verb_counts(db: Database) -> None:
    wf = make(db)
    early = wf.submit(
        tenant="acme", verb="disable", targets=["scanner@x.test"], reason="", requester="UREQ"
    )
    wf.approve(early.id, actor="UAPP1")
    later = _combined(wf)
    wf.approve(later, actor="UAPP1")
    wf.approve(later, actor="UAPP2")
    for request_id in (later,):
        wf.begin_execution(request_id)
        wf.finish_execution(
            request_id,
            [TargetRecord(t, True, "ok") for t in [*EXCEPTIONS, "*"]],
        )
    with db.read() as s:
        from approvals.models import ChangeRequest

        found = superseded_many(s, s.get(ChangeRequest, early.id), ["scanner@x.test"])
    assert found == {"scanner@x.test": later}
    enabled = [e for e in wf.history(tenant="acme") if e.event == "target_succeeded"]
    assert {e.target: (e.detail or "") for e in enabled}["scanner@x.test"].count(
        '"verb": "enable"'
    ) == 1


def test_an_offer_becomes_one_request_for_the_person_it_was_made_to(db: Database) -> None:
    clock = Clock()
    wf = make(db, POLICY, clock)
    offer = wf.proposals.offer(
        tenant="acme",
        verb="disable",
        targets=[("scanner@x.test", "enable"), ("*", None)],
        reason="keep 1",
        offered_to="UREQ",
        tenant_wide=True,
        ttl=timedelta(hours=1),
    )
    with pytest.raises(ProposalUnavailable, match="someone else"):
        wf.proposals.check(offer.id, actor="UAPP1")
    got = wf.proposals.check(offer.id, actor="UREQ")
    assert got.target_keys == ["scanner@x.test", "*"] and got.target_verbs == ["enable", None]
    view = wf.submit(
        tenant=got.tenant,
        verb=got.verb,
        targets=got.target_keys,
        target_verbs=got.target_verbs,
        reason=got.reason,
        requester="UREQ",
        tenant_wide=got.tenant_wide,
        proposal_id=got.id,
    )
    with pytest.raises(ProposalUnavailable) as used:
        wf.proposals.check(offer.id, actor="UREQ")
    assert used.value.request_id == view.id
    assert view.targets[0].outcome == TargetOutcome.PENDING.value
    late = wf.proposals.offer(
        tenant="acme",
        verb="disable",
        targets=[("*", None)],
        reason="",
        offered_to="UREQ",
        tenant_wide=True,
        ttl=timedelta(hours=1),
    )
    clock.now += timedelta(hours=2)
    with pytest.raises(ProposalUnavailable, match="too old"):
        wf.proposals.check(late.id, actor="UREQ")
    assert wf.proposals.prune(clock.now) == 1
    with pytest.raises(ProposalUnavailable, match="no longer stored"):
        wf.proposals.check(late.id, actor="UREQ")
