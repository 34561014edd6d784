"""The wiring: settings + config + database → workflow, tenants, Slack pieces and executor.

Every command (serve, socket, worker, the CLI) builds one ``Runtime``; the modules it wires
never import it back: they take what they use, or a protocol (``bot.slack.context``).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from approvals import Database, Workflow
from approvals.intake import IntakeQueue
from approvals.jobs import JobQueue
from approvals.leases import holder_name
from bot.commands.access import AccessPolicy
from bot.commands.service import CommandService
from bot.commands.usage import UsageService
from bot.config.schema import AppConfig, TenantConfig
from bot.config.settings import Settings
from bot.ops.observed import WorkerStatus
from bot.ops.scrubbed import ScrubbedProvider
from bot.running.executor import Executor
from bot.slack.after_ack import run as run_task
from bot.slack.cards import Cards
from bot.slack.context import TaskSink
from bot.slack.home import HomeTab
from bot.slack.http_client import KeepAliveWebClient
from bot.slack.inbox import Inbox
from bot.slack.membership import SlackMembership
from bot.slack.notify import ApproverNotifier
from bot.slack.task import Task
from bot.tenants import TenantRegistry, tenant_secrets
from providers import Provider

__all__ = ["Runtime", "build_runtime"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a running bot holds; the CLI uses the same pieces without Slack."""

    settings: Settings
    config: AppConfig
    db: Database
    tenants: TenantRegistry
    workflow: Workflow
    service: CommandService
    usage: UsageService
    client: WebClient
    cards: Cards
    executor: Executor
    membership: SlackMembership
    notifier: ApproverNotifier
    home: HomeTab
    access: AccessPolicy
    inbox: Inbox
    background: ThreadPoolExecutor
    worker: WorkerStatus | None = None  # what /healthz and /metrics read of the worker
    worker_process: TaskSink | None = None  # the worker process: takes after-ack tasks

    def hand_off(self, task: Task, *, here: bool = False) -> bool:
        """Store ``task`` in the intake table (committed: call it before the ack), then wake
        whoever carries it out: the worker process if there is one (and not ``here``), else
        this process's pool. False for a replayed delivery, stored before: nothing to do.
        Raises when the database cannot store it: then nothing may be acknowledged."""
        stored = self.inbox.accept(task)
        if stored is None:
            return False
        if self.worker_process is not None and not here:
            self.worker_process.submit(stored)  # a wake-up: the row is the copy that counts
        else:
            self.run_here(stored)
        return True

    def run_here(self, task: Task, *, hold: Callable[[], object] | None = None) -> None:
        """Carry out a stored task on this process's pool (its row is claimed first), after
        ``hold`` returns if given (bot.running.ack_first)."""
        context = contextvars.copy_context()  # keeps the request ID of the log lines
        self.background.submit(context.run, self.carry_out, task, hold)

    def carry_out(self, task: Task, hold: Callable[[], object] | None = None) -> None:
        if hold is not None:
            hold()
        try:
            self.inbox.carry_out(task, self.run_task)
        except Exception:
            log.exception("could not claim intake %s; a worker will pick it up", task.intake_id)

    def run_task(self, task: Task) -> None:
        run_task(self, task)

    def close(self) -> None:
        self.background.shutdown(wait=True)
        self.inbox.queue.close()
        self.usage.close()
        self.tenants.close()
        self.db.dispose()


def _scrubbed(provider: Provider, tenant: TenantConfig) -> Provider:
    return ScrubbedProvider(provider, tenant_secrets(tenant))


def _web_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return KeepAliveWebClient(
        token=token,
        base_url=settings.slack_base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_runtime(settings: Settings, config: AppConfig, db: Database) -> Runtime:
    tenants = TenantRegistry(config, wrap=_scrubbed)  # no secret in a message built from a reply
    client = _web_client(settings)
    membership = SlackMembership(client)
    lease = timedelta(seconds=settings.job_lease_s)
    jobs = JobQueue(db, lease=lease)
    workflow = Workflow(db, tenants.policy, membership=membership, jobs=jobs)
    cards = Cards(
        client,
        workflow,
        asked=lambda tenant: tenants.get(tenant).approvers,
        kind=lambda tenant: tenants.get(tenant).provider,
    )
    return Runtime(
        settings=settings,
        config=config,
        db=db,
        tenants=tenants,
        workflow=workflow,
        service=CommandService(workflow, tenants),
        usage=UsageService(workflow, tenants),
        client=client,
        cards=cards,
        executor=Executor(workflow, tenants, cards),
        membership=membership,
        notifier=ApproverNotifier(client, membership),
        home=HomeTab(client, workflow),
        access=AccessPolicy(config, workflow),
        inbox=Inbox(IntakeQueue(db, lease=lease), holder_name()),
        background=ThreadPoolExecutor(
            max_workers=settings.background_threads, thread_name_prefix="slack-work"
        ),
    )
