"""Timed hourly limits (``limit:NAME=N``) and timed disables of the same account are
separate things: neither cancels the other's revert, while a later limit of the same account
(any value) does; and a mailbox's login (``login:ADDRESS``) is its own target beside the
mailbox. Target strings are opaque here; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from approvals import Database, TargetRecord, TenantPolicy, Workflow
from tests.approvals.test_setting_supersession import _revert_state
from tests.approvals.test_workflow import Clock

POLICY = TenantPolicy(approvers=frozenset({"UAPP1", "UREQ"}))


def _done(wf: Workflow, verb: str, targets: list[str], revert: str | None = None) -> int:
    view = wf.submit(
        tenant="acme",
        verb=verb,
        targets=targets,
        reason="outbreak",
        requester="UREQ",
        revert_verb=revert,
        revert_after=timedelta(hours=1) if revert else None,
    )
    wf.approve(view.id, actor="UAPP1")
    wf.begin_execution(view.id)
    wf.finish_execution(view.id, [TargetRecord(t, True, "ok", {"previous": "5"}) for t in targets])
    return view.id


def test_a_disable_and_a_limit_of_one_account_leave_each_others_revert(db: Database) -> None:
    wf = Workflow(db, lambda _tenant: POLICY, clock=Clock())
    limit = _done(wf, "limit", ["limit:bob=100"], revert="limit")
    disable = _done(wf, "disable", ["account:bob"], revert="enable")
    _done(wf, "limit", ["limit:bobby=10"])  # another account whose name starts the same
    assert _revert_state(wf, limit) == ["queued"] and _revert_state(wf, disable) == ["queued"]
    assert wf.begin_revert(limit)[1] == ["limit:bob=100"]
    _done(wf, "limit", ["limit:bob=unlimited"])
    assert _revert_state(wf, limit) == ["cancelled"]
    assert _revert_state(wf, disable) == ["queued"]


def test_a_plain_enable_leaves_the_login_to_the_timed_disable(db: Database) -> None:
    wf = Workflow(db, lambda _tenant: POLICY, clock=Clock())
    timed = _done(wf, "disable", ["a@x.test", "login:a@x.test"], revert="enable")
    _done(wf, "enable", ["a@x.test"])  # outgoing mail only
    assert _revert_state(wf, timed) == ["queued"]
    assert wf.begin_revert(timed)[1] == ["login:a@x.test"]  # the login is still lifted


def test_an_accounts_history_includes_its_limits_and_not_a_longer_names(db: Database) -> None:
    wf = Workflow(db, lambda _tenant: POLICY, clock=Clock())
    mine = _done(wf, "limit", ["limit:bob=100"])
    other = _done(wf, "limit", ["limit:bobby=10"])
    plain = _done(wf, "disable", ["account:bob"])
    events = wf.history(tenant="acme", target="account:bob", target_prefixes=("limit:bob=",))
    ids = {e.request_id for e in events}
    assert mine in ids and plain in ids and other not in ids
    assert {e.request_id for e in wf.history(tenant="acme", target="account:bob")} == {plain}
