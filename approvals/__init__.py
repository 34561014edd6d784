"""The approval workflow: requests, policies, the store and the audit trail.

Knows nothing of Slack or of any back end: tenants, verbs and targets are opaque strings.
"""

from approvals import drift_model as _drift_model  # noqa: F401  (its table on the metadata)
from approvals.db import Database
from approvals.errors import (
    InvalidTransition,
    NotAllowed,
    NotAnApprover,
    NotARequester,
    RequestNotFound,
    SelfApproval,
    WorkflowError,
)
from approvals.models import RequestStatus, TargetOutcome
from approvals.policy import DirectMembership, Membership, TenantPolicy
from approvals.workflow import ApproveOutcome, RequestView, TargetRecord, Workflow

__all__ = [
    "ApproveOutcome",
    "Database",
    "DirectMembership",
    "InvalidTransition",
    "Membership",
    "NotARequester",
    "NotAllowed",
    "NotAnApprover",
    "RequestNotFound",
    "RequestStatus",
    "RequestView",
    "SelfApproval",
    "TargetOutcome",
    "TargetRecord",
    "TenantPolicy",
    "Workflow",
    "WorkflowError",
]
