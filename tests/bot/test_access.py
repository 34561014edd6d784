"""Access rules: workspaces, channels, the per-user limit for change requests and the one
for live-state reads (counted in the database, so every replica counts the same)."""

from __future__ import annotations

import pytest

from approvals import Database, TenantPolicy, Workflow
from approvals.errors import ReadLimitReached, RequestLimitReached
from bot.commands.access import AccessDenied, AccessPolicy, Origin
from bot.config.schema import AppConfig, LimitsConfig

CONFIG = {
    "slack": {"allowed_team_ids": ["T0GOOD"]},
    "limits": {
        "change_requests_per_user": 3,
        "change_requests_window": "10m",
        "status_reads_per_user": 4,
        "status_reads_window": "1m",
        "status_targets_max": 5,
    },
    "tenants": {
        "acme": {
            "provider": "whm",
            "url": "https://whm.acme.example:2087",
            "username": "root",
            "token": "t",
            "approvers": ["U0APP"],
            "channels": ["C0OPS"],
        },
        "open": {
            "provider": "whm",
            "url": "https://whm.open.example:2087",
            "username": "root",
            "token": "t",
            "approvers": ["U0APP"],
        },
    },
}


def policy(db: Database, **limits: object) -> AccessPolicy:
    config = AppConfig.model_validate({**CONFIG, "limits": {**CONFIG["limits"], **limits}})
    workflow = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"U0APP"})))
    return AccessPolicy(config, workflow)


def test_team_and_channel_allowlists(db: Database) -> None:
    access = policy(db)
    access.check_team(Origin("U1", "T0GOOD", "C0OPS"))
    with pytest.raises(AccessDenied, match="workspace"):
        access.check_team(Origin("U1", "T0EVIL", "C0OPS"))
    access.check_channel("acme", Origin("U1", "T0GOOD", "C0OPS"))
    with pytest.raises(AccessDenied, match="only accepted in <#C0OPS>"):
        access.check_channel("acme", Origin("U1", "T0GOOD", "C0RANDOM"))
    access.check_channel("open", Origin("U1", "T0GOOD", "C0RANDOM"))


def test_rate_limit_counts_stored_requests_per_user(db: Database) -> None:
    access = policy(db)
    origin = Origin("U0BUSY", "T0GOOD", "C0OPS")
    for n in range(3):  # distinct targets: identical pending requests are refused
        access.check_rate(origin)
        access.workflow.submit(
            tenant="acme", verb="disable", targets=[f"a{n}@x.test"], reason="", requester="U0BUSY"
        )
    with pytest.raises(AccessDenied, match="limit is 3"):
        access.check_rate(origin)
    access.check_rate(Origin("U0CALM", "T0GOOD", "C0OPS"))  # per user
    access.refuse(origin, tenant="acme", problem="rate")
    assert (
        access.workflow.count_events(
            actor="U0BUSY", event="refused_access", since=access.workflow.get(1).request.created_at
        )
        == 1
    )


def test_the_limit_given_to_the_workflow_refuses_with_the_same_message(db: Database) -> None:
    access = policy(db)
    for n in range(3):
        access.workflow.submit(
            tenant="acme",
            verb="disable",
            targets=[f"a{n}@x.test"],
            reason="",
            requester="U0BUSY",
            limit=access.request_limit,
        )
    with pytest.raises(RequestLimitReached) as err:
        access.workflow.submit(
            tenant="acme",
            verb="disable",
            targets=["z@x.test"],
            reason="",
            requester="U0BUSY",
            limit=access.request_limit,
        )
    assert str(err.value) == (
        "You made 3 change requests in the last 10m; the limit is 3. Try again later, "
        "or ask another on-call engineer."
    )
    with pytest.raises(AccessDenied) as early:
        access.check_rate(Origin("U0BUSY", "T0GOOD", "C0OPS"))
    assert str(early.value) == str(err.value)


def test_status_reads_are_limited_per_user(db: Database) -> None:
    access = policy(db)
    reader = Origin("U0READ", "T0GOOD", "C0OPS")
    for _ in range(4):
        access.admit_read(reader, tenant="acme", targets=2)
    with pytest.raises(ReadLimitReached, match="the limit is 4"):
        access.admit_read(reader, tenant="acme", targets=1)
    access.admit_read(Origin("U0CALM", "T0GOOD", "C0OPS"), tenant="acme", targets=1)
    # a second replica (another policy on the same database) sees the same count
    with pytest.raises(ReadLimitReached):
        policy(db).admit_read(reader, tenant="acme", targets=1)
    # reads do not crowd the history; refusals are in it
    assert {e.event for e in access.workflow.history(tenant="acme")} == {"refused_access"}


def test_a_status_read_of_too_many_targets_is_refused_and_not_counted(db: Database) -> None:
    access = policy(db)
    reader = Origin("U0READ", "T0GOOD", "C0OPS")
    with pytest.raises(AccessDenied, match="at most 5 targets, not 6"):
        access.admit_read(reader, tenant="acme", targets=6)
    for _ in range(4):
        access.admit_read(reader, tenant="acme", targets=5)  # the refusal used no read


def test_read_limit_defaults_and_validation() -> None:
    limits = LimitsConfig()
    assert (limits.status_reads_per_user, limits.status_reads_window) == (10, "1m")
    assert limits.status_targets_max == 100
    assert limits.reads_window.total_seconds() == 60
    with pytest.raises(ValueError, match="not a duration"):
        LimitsConfig(status_reads_window="soon")
    with pytest.raises(ValueError):
        LimitsConfig(status_targets_max=0)
