"""What metrics and health checks read of the running bot, as protocols.

The wiring (``bot.runtime.Runtime``) satisfies them, so operations code never imports it.
"""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient

from approvals import Database
from bot.tenants import TenantRegistry

__all__ = ["Observed", "WorkerStatus"]


class WorkerStatus(Protocol):
    """What /healthz and /metrics read of a worker: job threads here, or a worker process."""

    @property
    def alive(self) -> bool: ...

    @property
    def busy(self) -> int | None: ...


class Observed(Protocol):
    """The pieces metrics count: the database, the worker, the Slack client and the tenants."""

    db: Database
    worker: WorkerStatus | None
    client: WebClient
    tenants: TenantRegistry
