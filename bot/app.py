"""Wiring: settings + config + database → workflow, providers, Slack app and handlers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

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
from bot.tenants import TenantRegistry

if TYPE_CHECKING:
    from bot.worker import Worker

__all__ = ["Runtime", "build_runtime", "build_slack_app"]


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
    worker: Worker | None = None

    def close(self) -> None:
        self.background.shutdown(wait=True)
        self.tenants.close()
        self.db.dispose()


def _web_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
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
        # listeners only acknowledge and hand work to rt.background, but a few more threads
        # than Bolt's default 5 keep acks flowing while Slack's API is slow
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=False,
        request_verification_enabled=True,
        process_before_response=False,
    )
    register(app, rt)
    return app
