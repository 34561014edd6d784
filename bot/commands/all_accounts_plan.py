"""The plan a ``--all-accounts`` request carries (``ChangeRequest.plan``, JSON): what the
card, the result and the matching ``enable`` need to know about "every account".

- ``disable``: how many accounts the server had when the request was made (and how many
  were suspended then); once executing, how many ``listaccts`` listed and the names it
  returned that the bot would not use as targets.
- ``enable``: the ``disable --all-accounts`` request it lifts, how many of that request's
  accounts were suspended before it (they stay suspended), and how many a later request
  changed since (left to that request).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from approvals.models import ChangeRequest

__all__ = ["AllAccountsPlan", "LEFT_AS_IT_WAS"]

KIND = "all_accounts"
LEFT_AS_IT_WAS = "left_as_it_was"  # in a target's facts: suspended before, not touched


@dataclass(frozen=True, slots=True)
class AllAccountsPlan:
    verb: str  # disable | enable
    accounts_at_request: int = 0  # disable: listaccts when the request was made
    suspended_at_request: int = 0
    listed: int | None = None  # disable: listaccts when it executed (None: not yet)
    already_suspended: int = 0  # disable: of those, suspended before (left as they were)
    refused_names: list[str] = field(default_factory=list)  # names the bot would not use
    lifts: int | None = None  # enable: the disable --all-accounts request it lifts
    left_suspended: int = 0  # enable: suspended before that request, so not lifted
    changed_later: int = 0  # enable: changed by a later request since, left to it

    def to_json(self) -> str:
        return json.dumps({"kind": KIND, **asdict(self)}, sort_keys=True)

    def listed_now(self, listed: int, already: int, refused: list[str]) -> AllAccountsPlan:
        return replace(self, listed=listed, already_suspended=already, refused_names=refused)

    @classmethod
    def of(cls, request: ChangeRequest) -> AllAccountsPlan | None:
        """The plan of an ``--all-accounts`` request; None for any other request."""
        if not request.plan:
            return None
        try:
            data = json.loads(request.plan)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.pop("kind", None) != KIND:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError:
            return None
