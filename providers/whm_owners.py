"""Who owns a mail domain on the WHM server, asked once per request, and how a mailbox's
outgoing state reads in words. Shared by the provider's verbs and the queue commands."""

from __future__ import annotations

from concurrent.futures import Future
from threading import Lock

from providers.errors import TargetNotFound
from providers.whm_client import WhmClient

__all__ = ["DomainOwners", "outgoing_summary"]


def outgoing_summary(suspended: int, held: int) -> str:
    if suspended and held:
        return "outgoing mail suspended (and held)"
    if suspended:
        return "outgoing mail suspended"
    if held:
        return "outgoing mail held (queued, not sent)"
    return "outgoing mail allowed"


class DomainOwners:
    """getdomainowner answers for one request; concurrent asks for a domain share one call."""

    def __init__(self, client: WhmClient) -> None:
        self._client = client
        self._lock = Lock()
        self._futures: dict[str, Future[str]] = {}

    def owner(self, domain: str) -> str:
        with self._lock:
            future = self._futures.get(domain)
            mine = future is None
            if future is None:
                future = self._futures[domain] = Future()
        if mine:
            try:
                future.set_result(self._lookup(domain))
            except BaseException as exc:  # waiting threads must never hang
                future.set_exception(exc)
        return future.result()

    def _lookup(self, domain: str) -> str:
        user = self._client.domain_owner(domain)
        if user is None:
            raise TargetNotFound(f"no account on this server serves {domain}")
        return user
