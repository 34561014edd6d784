"""/metrics: a real request → approve → execute flow on a real database, a tiny provider
behind the instrumented wrapper, a loopback Slack, and the exposition text parsed back."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

import bot.tenants
from approvals import Database
from bot.commands import grammar
from bot.config.schema import load_config
from bot.config.settings import Settings
from bot.ops.metrics import Metrics, attach_metrics
from bot.running.server import build_asgi_app
from bot.runtime import Runtime, build_runtime
from providers import Scope, Target, TargetResult, TargetState, Verb
from providers.errors import TargetNotFound, Unavailable
from tests.fakes.slack_api import FakeSlack

BOT_TOKEN = "xoxb-metrics-test-0042"
CONFIG = """\
tenants:
  acme:
    provider: whm
    url: https://whm.invalid:2087
    username: root
    token: not-used-by-the-tiny-provider
    approvers: [U0APPROVER]
    approvals_required_tenant_wide: 1
"""


class TinyProvider:
    """Mailboxes in a dict; ``missing@`` does not exist, and ``boom@`` makes status raise."""

    kind = "tiny"

    def __init__(self) -> None:
        self.suspended: dict[str, bool] = {}

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return frozenset((Scope.MAILBOX, v) for v in (Verb.DISABLE, Verb.ENABLE, Verb.STATUS))

    def _result(self, target: Target) -> TargetResult:
        if target.name.startswith("missing@"):
            return TargetResult(target, error=TargetNotFound("no such mailbox"))
        state = "suspended" if self.suspended.get(target.name) else "allowed"
        return TargetResult(target, state=TargetState(target, f"outgoing mail {state}"))

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        return [self._result(t) for t in targets]

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        if any(t.name.startswith("boom@") for t in targets):
            raise Unavailable("back end down")
        return [self._result(t) for t in targets]

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        for target in targets:
            if not target.name.startswith("missing@"):
                self.suspended[target.name] = verb == Verb.DISABLE
        return [self._result(t) for t in targets]

    def close(self) -> None:
        return None


@dataclass
class World:
    rt: Runtime
    metrics: Metrics
    slack: FakeSlack
    provider: TinyProvider


@pytest.fixture
def world(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    provider = TinyProvider()
    monkeypatch.setattr(bot.tenants, "build_provider", lambda _tenant, _tokens=None: provider)
    slack = FakeSlack(token=BOT_TOKEN).start()
    config = tmp_path / "smtp-bot.yml"
    config.write_text(CONFIG)
    settings = Settings(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url)
    rt = build_runtime(settings, load_config(config), db)
    try:
        yield World(rt, attach_metrics(rt), slack, provider)
    finally:
        rt.tenants.close()
        threading.Thread(target=slack.stop, daemon=True).start()


def scrape(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition text, keyed by (name, labels)."""
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _submit(rt: Runtime, text: str) -> int:
    parsed = grammar.parse(text)
    assert isinstance(parsed, grammar.Change)
    return rt.service.submit(parsed, requester="U0REQ").id


def test_flow_shows_requests_approvals_jobs_and_provider_latency(world: World) -> None:
    rt, metrics = world.rt, world.metrics
    samples = scrape(metrics)
    assert value(samples, "smtp_bot_database_up") == 1
    assert value(samples, "smtp_bot_queue_depth") == 0

    request_id = _submit(rt, "disable acme spammer@acme.test --reason spam")
    rt.workflow.approve(request_id, actor="U0APPROVER")
    samples = scrape(metrics)
    assert value(samples, "smtp_bot_requests", tenant="acme", verb="disable", status="approved")
    assert value(samples, "smtp_bot_approvals", tenant="acme") == 1
    assert value(samples, "smtp_bot_jobs", kind="execute", state="queued") == 1
    assert value(samples, "smtp_bot_queue_depth") == 1
    assert value(samples, "smtp_bot_queue_oldest_due_seconds") >= 0

    assert rt.executor.run(request_id)
    assert world.provider.suspended == {"spammer@acme.test": True}
    samples = scrape(metrics)
    assert value(samples, "smtp_bot_requests", tenant="acme", verb="disable", status="succeeded")
    assert (
        value(samples, "smtp_bot_requests", tenant="acme", verb="disable", status="approved")
        is None
    )
    assert value(samples, "smtp_bot_jobs", kind="execute", state="done") == 1
    assert value(samples, "smtp_bot_queue_depth") == 0
    for operation in ("check_targets", "apply_disable"):
        labels = {"tenant": "acme", "provider": "tiny", "operation": operation}
        assert value(samples, "smtp_bot_provider_call_duration_seconds_count", **labels) == 1
        assert (
            value(samples, "smtp_bot_provider_call_duration_seconds_bucket", le="+Inf", **labels)
            == 1
        )
    ok = {"tenant": "acme", "operation": "apply_disable", "outcome": "ok", "error_kind": ""}
    assert value(samples, "smtp_bot_provider_target_results_total", **ok) == 1


def test_provider_errors_and_raised_calls_are_counted(world: World) -> None:
    rt = world.rt
    with pytest.raises(Exception, match="Nothing was requested"):
        _submit(rt, "disable acme missing@acme.test")
    provider = rt.tenants.provider("acme")
    with pytest.raises(Unavailable):
        provider.status([Target.parse("boom@acme.test")])
    samples = scrape(world.metrics)
    not_found = {
        "tenant": "acme",
        "operation": "check_targets",
        "outcome": "error",
        "error_kind": "not_found",
    }
    assert value(samples, "smtp_bot_provider_target_results_total", **not_found) == 1
    raised = {"tenant": "acme", "operation": "status", "error": "Unavailable"}
    assert value(samples, "smtp_bot_provider_call_errors_total", **raised) == 1
    timed = {"tenant": "acme", "provider": "tiny", "operation": "status"}
    assert value(samples, "smtp_bot_provider_call_duration_seconds_count", **timed) == 1
    assert rt.tenants.provider("acme") is provider  # one wrapper per tenant, not per call


def test_slack_api_calls_errors_and_rate_limits(world: World) -> None:
    client, slack = world.rt.client, world.slack
    client.chat_postMessage(channel="C0OPS", text="hello")
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(Exception, match="channel_not_found"):
        client.chat_postMessage(channel="C0NOPE", text="hello")
    # one 429 that the client's retry handler absorbs, then four that exhaust it (3 retries)
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    client.chat_postMessage(channel="C0OPS", text="after a retry")
    slack.fail_next("chat.postMessage", status=429, retry_after=0, count=4)
    with pytest.raises(Exception, match="429|fake_failure|ratelimited"):
        client.chat_postMessage(channel="C0OPS", text="never")
    samples = scrape(world.metrics)
    assert value(samples, "smtp_bot_slack_api_calls_total", method="chat.postMessage") == 4
    errors = "smtp_bot_slack_api_errors_total"
    assert value(samples, errors, method="chat.postMessage", error="channel_not_found") == 1
    assert value(samples, errors, method="chat.postMessage", error="ratelimited") == 1
    limited = value(samples, "smtp_bot_slack_api_rate_limited_total", method="chat.postMessage")
    assert limited == 5  # every 429 answer, retried or not


def test_card_delivery_failures_are_counted_and_undeliverable_cards_gauged(world: World) -> None:
    rt, slack = world.rt, world.slack
    view = rt.workflow.get(_submit(rt, "disable acme a@x.test"))
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(Exception, match="channel_not_found"):
        rt.cards.post(view, "C0GONE")  # refused outright: nothing will retry it
    samples = scrape(world.metrics)
    failures = "smtp_bot_card_delivery_failures_total"
    assert value(samples, failures, error="channel_not_found") == 1
    assert value(samples, "smtp_bot_cards_undeliverable", error="channel_not_found") == 1


def test_database_down_reports_zero_instead_of_failing_the_scrape(world: World) -> None:
    world.rt.db = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    samples = scrape(world.metrics)
    assert value(samples, "smtp_bot_database_up") == 0
    assert value(samples, "smtp_bot_queue_depth") is None


def test_metrics_endpoint_serves_the_runtime_registry(world: World) -> None:
    rt = world.rt
    _submit(rt, "disable acme spammer@acme.test")
    other = Metrics(rt)  # another runtime's registry: no collision, separate counters
    app = build_asgi_app(rt, None, metrics=world.metrics)
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert "smtp_bot_provider_call_duration_seconds" in families
    pending = [s for s in families["smtp_bot_requests"].samples if s.labels["status"] == "pending"]
    assert [s.value for s in pending] == [1]
    assert value(scrape(other), "smtp_bot_provider_call_duration_seconds_count") is None


# --- /healthz ------------------------------------------------------------------------------


def test_healthz_ok_then_503_when_the_worker_dies(world: World) -> None:
    from bot.running.worker import Worker

    rt = world.rt
    client = TestClient(build_asgi_app(rt, None, metrics=world.metrics))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker": "none", "tenants": 1}

    rt.worker = Worker(rt.workflow.jobs, rt.executor, concurrency=1, poll_s=0.05).start()
    assert client.get("/healthz").json()["worker"] == "ok"
    assert rt.worker.stop(5)  # its threads end: as if they had died
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["worker"] == "dead"
    assert value(scrape(world.metrics), "smtp_bot_worker_alive") == 0


def test_healthz_503_when_the_database_is_unreachable(world: World) -> None:
    rt = world.rt
    rt.db = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    response = TestClient(build_asgi_app(rt, None)).get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert response.json()["status"] == "unavailable"
