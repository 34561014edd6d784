"""The wiring: settings + config + database → workflow, tenants, Slack pieces and executor.

Every command (serve, socket, worker, the CLI) builds one ``Runtime``; the modules it wires
never import it back: they take what they use, or a protocol (``bot.slack.context``).
"""

from __future__ import annotations

import contextvars
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
from approvals.jobs import JobQueue
from bot.commands.access import AccessPolicy
from bot.commands.service import CommandService
from bot.config.schema import AppConfig
from bot.config.settings import Settings
from bot.ops.observed import WorkerStatus
from bot.running.executor import Executor
from bot.slack.after_ack import run as run_task
from bot.slack.cards import Cards
from bot.slack.context import TaskSink
from bot.slack.home import HomeTab
from bot.slack.http_client import KeepAliveWebClient
from bot.slack.membership import SlackMembership
from bot.slack.notify import ApproverNotifier
from bot.slack.task import Task
from bot.tenants import TenantRegistry

__all__ = ["Runtime", "build_runtime"]


@dataclass
class Runtime:
    """Everything a running bot holds; the CLI uses the same pieces without Slack."""

    settings: Settings
    config: AppConfig
    db: Database
    tenants: TenantRegistry
    workflow: Workflow
    service: CommandService
    client: WebClient
    cards: Cards
    executor: Executor
    membership: SlackMembership
    notifier: ApproverNotifier
    home: HomeTab
    access: AccessPolicy
    background: ThreadPoolExecutor
    worker: WorkerStatus | None = None  # what /healthz and /metrics read of the worker
    worker_process: TaskSink | None = None  # the worker process: takes after-ack tasks

    def hand_off(self, task: Task, *, here: bool = False) -> None:
        """After-ack work: to the worker process if there is one (and not ``here``), else to
        this process's pool. Never blocks the acknowledgement."""
        if self.worker_process is not None and not here:
            self.worker_process.submit(task)
            return
        context = contextvars.copy_context()  # keeps the request ID of the log lines
        self.background.submit(context.run, run_task, self, task)

    def close(self) -> None:
        self.background.shutdown(wait=True)
        self.tenants.close()
        self.db.dispose()


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
    tenants = TenantRegistry(config)
    client = _web_client(settings)
    membership = SlackMembership(client)
    jobs = JobQueue(db, lease=timedelta(seconds=settings.job_lease_s))
    workflow = Workflow(db, tenants.policy, membership=membership, jobs=jobs)
    cards = Cards(client, workflow)
    return Runtime(
        settings=settings,
        config=config,
        db=db,
        tenants=tenants,
        workflow=workflow,
        service=CommandService(workflow, tenants),
        client=client,
        cards=cards,
        executor=Executor(workflow, tenants, cards),
        membership=membership,
        notifier=ApproverNotifier(client, membership),
        home=HomeTab(client, workflow),
        access=AccessPolicy(config, workflow),
        background=ThreadPoolExecutor(
            max_workers=settings.background_threads, thread_name_prefix="slack-work"
        ),
    )
