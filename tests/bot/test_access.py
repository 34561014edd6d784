"""Access rules: workspaces, channels and the per-user rate limit for change requests."""

from __future__ import annotations

import pytest

from approvals import Database, TenantPolicy, Workflow
from bot.commands.access import AccessDenied, AccessPolicy, Origin
from bot.config.schema import AppConfig

CONFIG = {
    "slack": {"allowed_team_ids": ["T0GOOD"]},
    "limits": {"change_requests_per_user": 3, "change_requests_window": "10m"},
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


def policy(db: Database) -> AccessPolicy:
    config = AppConfig.model_validate(CONFIG)
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
    for _ in range(3):
        access.check_rate(origin)
        access.workflow.submit(
            tenant="acme", verb="disable", targets=["a@x.test"], reason="", requester="U0BUSY"
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
