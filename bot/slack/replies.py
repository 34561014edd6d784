"""Answers to a press that changed nothing, saying why and what is still needed."""

from __future__ import annotations

from approvals.workflow_base import ApproveOutcome

__all__ = ["repeated_approval"]


def repeated_approval(outcome: ApproveOutcome) -> str:
    """``You already approved #4; it needs 1 more approval from someone else.``"""
    number = f"#{outcome.view.id}"
    missing = outcome.missing
    if missing == 0:
        return f"You already approved {number}; it has every approval it needs."
    noun = "approval" if missing == 1 else "approvals"
    return f"You already approved {number}; it needs {missing} more {noun} from someone else."
