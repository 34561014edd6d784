"""A refusal names the request's status in a sentence that reads right for every status."""

from __future__ import annotations

import pytest

from approvals.models import RequestStatus
from approvals.wording import no_longer_pending

EXPECTED = {
    RequestStatus.PENDING: "Request #7 is still waiting for approval.",
    RequestStatus.APPROVED: "Request #7 is already approved and about to be executed.",
    RequestStatus.EXECUTING: "Request #7 is already approved and being executed.",
    RequestStatus.SUCCEEDED: "Request #7 has already succeeded.",
    RequestStatus.FAILED: "Request #7 has already failed.",
    RequestStatus.DENIED: "Request #7 has already been denied.",
    RequestStatus.CANCELLED: "Request #7 has already been cancelled.",
    RequestStatus.EXPIRED: "Request #7 has already expired.",
}


@pytest.mark.parametrize("status", list(RequestStatus))
def test_every_status_has_its_sentence(status: RequestStatus) -> None:
    assert no_longer_pending(7, status) == EXPECTED[status]
    assert no_longer_pending(7, status.value) == EXPECTED[status]


def test_an_unknown_status_is_said_as_stored() -> None:
    assert no_longer_pending(7, "archived") == "Request #7 is archived."
