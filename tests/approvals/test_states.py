"""The request state machine: the table allows exactly its transitions, and nothing else in
the code base sets a request's status behind its back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from approvals.errors import IllegalTransition, InvalidTransition
from approvals.models import ChangeRequest, RequestStatus
from approvals.states import TRANSITIONS, may_move, move

S = RequestStatus
ROOT = Path(__file__).resolve().parents[2]

LEGAL = {
    (S.PENDING, S.APPROVED),
    (S.PENDING, S.DENIED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.EXPIRED),
    (S.APPROVED, S.EXECUTING),
    (S.EXECUTING, S.SUCCEEDED),
    (S.EXECUTING, S.FAILED),
}
ALL_PAIRS = [(a, b) for a in S for b in S]


def _request(status: RequestStatus) -> ChangeRequest:
    return ChangeRequest(id=7, tenant="acme", verb="disable", requester="U", status=status.value)


def test_the_table_covers_every_status_and_only_the_legal_moves() -> None:
    assert set(TRANSITIONS) == set(S)
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL
    for final in (s for s in S if s.is_final):
        assert not TRANSITIONS[final]  # nothing follows a final state


@pytest.mark.parametrize(("current", "to"), sorted(LEGAL))
def test_every_legal_transition_is_allowed(current: RequestStatus, to: RequestStatus) -> None:
    request = _request(current)
    move(request, to)
    assert request.status == to.value
    assert may_move(current.value, to)


@pytest.mark.parametrize(("current", "to"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_every_illegal_transition_is_refused(current: RequestStatus, to: RequestStatus) -> None:
    request = _request(current)
    with pytest.raises(IllegalTransition) as err:
        move(request, to)
    assert request.status == current.value  # unchanged
    assert isinstance(err.value, InvalidTransition)
    assert (err.value.status, err.value.to) == (current.value, to.value)
    assert f"#7 cannot go from {current.value} to {to.value}" in str(err.value)


def test_an_unknown_stored_status_may_be_followed_by_nothing() -> None:
    request = ChangeRequest(id=8, tenant="acme", verb="disable", requester="U", status="weird")
    with pytest.raises(IllegalTransition):
        move(request, S.APPROVED)


def _status_assignments(path: Path) -> list[int]:
    """Lines that assign to an attribute named ``status`` (plain, augmented or annotated),
    or set it through ``setattr``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "status"
        ):
            lines.append(node.lineno)
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and sub.attr == "status":
                    lines.append(node.lineno)
    return lines


def test_no_code_but_the_state_machine_assigns_a_request_status() -> None:
    allowed = {
        ROOT / "approvals" / "states.py",
        ROOT / "approvals" / "errors.py",  # InvalidTransition.status: the status it refused
    }
    offenders = []
    for package in ("approvals", "bot", "providers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in allowed:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{n}" for n in _status_assignments(path)]
    assert offenders == []
    assert _status_assignments(ROOT / "approvals" / "states.py")  # the check does see one


def test_the_checker_finds_a_stray_assignment(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text("def f(r):\n    r.status = 'approved'\n    setattr(r, 'status', 'x')\n")
    assert _status_assignments(stray) == [2, 3]
