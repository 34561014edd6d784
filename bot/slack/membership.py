"""Approver and requester membership, including Slack user groups (``S…`` IDs).

``usergroups.users.list`` is Tier 2 (about 20 calls a minute), so members are cached for a
while and re-read on a miss: someone just added to the group is recognised on their first
click, while a flood of clicks does not exhaust the rate limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

__all__ = ["SlackMembership"]

log = logging.getLogger(__name__)


class SlackMembership:
    """Implements approvals.Membership: IDs match directly; groups are expanded via Slack."""

    def __init__(
        self,
        client: WebClient,
        *,
        ttl_s: float = 300.0,
        min_refresh_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def is_member(self, actor: str, principals: frozenset[str]) -> bool:
        if actor in principals:
            return True
        groups = sorted(p for p in principals if p.startswith("S"))
        for group in groups:
            if actor in self.members(group):
                return True
        # A miss may be a stale cache: re-read groups not read very recently, once.
        return any(actor in self.members(g, refresh=True) for g in groups)

    def members(self, group: str, *, refresh: bool = False) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(group)
        if cached is not None:
            age = now - cached[0]
            if age < self.min_refresh_s or (age < self.ttl_s and not refresh):
                return cached[1]
        try:
            response = self.client.usergroups_users_list(usergroup=group)
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.warning("could not read members of user group %s: %s", group, error)
            return cached[1] if cached is not None else frozenset()  # fail closed when unknown
        members = frozenset(str(u) for u in response.get("users") or [])
        with self._lock:
            self._cache[group] = (now, members)
        return members

    def expand(self, principals: frozenset[str]) -> frozenset[str]:
        """Every user ID named directly or through a group (for notifications)."""
        users = {p for p in principals if not p.startswith("S")}
        for group in principals - users:
            users |= self.members(group)
        return frozenset(users)
