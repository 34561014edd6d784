"""Wiring: settings + config + database → workflow, providers, Slack app and handlers."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from approvals import Database, Workflow
from approvals.jobs import JobQueue
from bot.access import AccessPolicy
from bot.cards import Cards
from bot.config import AppConfig
from bot.errors import ConfigError
from bot.execution import Executor
from bot.handlers import register
from bot.home import HomeTab
from bot.membership import SlackMembership
from bot.notify import ApproverNotifier
from bot.service import CommandService
from bot.settings import Settings
from bot.slack_http import KeepAliveWebClient
from bot.tasks import Task
from bot.tasks import run as run_task
from bot.tenants import TenantRegistry

if TYPE_CHECKING:
    from bot.worker_process import WorkerProcess

__all__ = ["Runtime", "WorkerStatus", "build_runtime", "build_slack_app"]


class WorkerStatus(Protocol):
    """What /healthz and /metrics read of a worker: job threads here, or a worker process."""

    @property
    def alive(self) -> bool: ...

    @property
    def busy(self) -> int | None: ...


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
    worker: WorkerStatus | None = None
    worker_process: WorkerProcess | None = None  # takes the after-ack tasks when set

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


def build_slack_app(rt: Runtime) -> App:
    """The Bolt app in HTTP mode: signature verification on, listeners registered."""
    settings = rt.settings
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    if settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET is not set")
    app = App(
        client=rt.client,
        # listeners only acknowledge and hand work on (Runtime.hand_off), so Bolt can run them
        # on the request's own thread and answer at once, instead of polling every 10 ms for
        # an ack from its listener pool
        process_before_response=True,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=False,
        request_verification_enabled=True,
    )
    register(app, rt)
    return app
