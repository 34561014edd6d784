"""Bulk execution: progress on the card in chunks, one summary at the end, and a resumed
run that skips what an earlier (killed) run already finished."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from slack_sdk import WebClient

from approvals import Database, TenantPolicy, Workflow
from approvals.workflow import EXECUTE
from bot.running import executor as bot_executor
from bot.running.executor import Executor
from bot.slack.cards import Cards
from providers import Scope, Target, TargetResult, TargetState, Verb
from providers.errors import Rejected
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-exec-test"


class ChunkedProvider:
    """Suspends mailboxes in memory; ``bad…`` addresses are refused; records chunk sizes."""

    kind = "chunked"
    batch_size = 100

    def __init__(self) -> None:
        self.chunks: list[int] = []

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return frozenset({(Scope.MAILBOX, Verb.DISABLE)})

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        self.chunks.append(len(targets))
        return [
            TargetResult(t, error=Rejected("You do not have an email account named “x”."))
            if t.name.startswith("bad")
            else TargetResult(t, state=TargetState(t, "outgoing mail suspended", {"s": 1}))
            for t in targets
        ]

    def close(self) -> None:
        return None


class Tenants:
    def __init__(self, provider: ChunkedProvider) -> None:
        self._provider = provider

    def provider(self, _name: str) -> ChunkedProvider:
        return self._provider


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def _setup(db: Database, slack: FakeSlack, targets: list[str]):
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})))
    cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    provider = ChunkedProvider()
    executor = Executor(wf, Tenants(provider), cards)  # type: ignore[arg-type]
    view = wf.submit(tenant="acme", verb="disable", targets=targets, reason="", requester="UREQ")
    cards.post(view, "C0OPS")
    wf.approve(view.id, actor="UAPP")
    return wf, provider, executor, view.id


def test_bulk_change_shows_progress_and_ends_with_one_summary(
    db: Database, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bot_executor, "PROGRESS_INTERVAL_S", 0.0)
    targets = [f"user{i}@x.test" for i in range(245)] + [f"bad{i}@x.test" for i in range(5)]
    wf, provider, executor, request_id = _setup(db, slack, targets)
    assert executor.run(request_id)
    assert provider.chunks == [100, 100, 50]
    texts = [json.dumps(c.args["blocks"]) for c in slack.calls_to("chat.update")]
    assert any("100 of 250 done" in t for t in texts)
    assert any("200 of 250 done" in t for t in texts)
    summaries = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(summaries) == 1  # never a message per target
    text = summaries[0].args["text"]
    assert "245 succeeded, 5 failed" in text
    assert all(f"bad{i}@x.test" in text for i in range(5))  # the failures by name
    assert "/smtp history acme" in text  # the rest behind a command
    assert wf.get(request_id).status.value == "failed"


def test_a_resumed_run_skips_finished_targets(db: Database, slack: FakeSlack) -> None:
    targets = [f"user{i}@x.test" for i in range(250)]
    wf, provider, executor, request_id = _setup(db, slack, targets)
    job = wf.jobs.claim("w1", request_id=request_id, kind=EXECUTE)
    view = wf.begin_execution(request_id)
    first = provider.apply(Verb.DISABLE, [Target.from_key(t.target) for t in view.targets[:100]])
    wf.record_progress(request_id, [bot_executor._record(r) for r in first])
    # w1 dies here; its lease expires and another worker takes the job
    provider.chunks.clear()
    from datetime import timedelta

    wf.jobs.lease = timedelta(seconds=0)
    wf.jobs.renew(job.id, "w1")
    executor.handle(wf.jobs.claim("w2", request_id=request_id), worker="w2")
    assert provider.chunks == [100, 50]
    assert wf.get(request_id).status.value == "succeeded"


def test_the_change_does_not_wait_for_slack_to_redraw_the_card(
    db: Database, slack: FakeSlack
) -> None:
    wf, provider, _executor, request_id = _setup(db, slack, ["a@x.test"])
    applied = threading.Event()
    apply = provider.apply

    def recording_apply(verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        applied.set()
        return apply(verb, targets)

    class CardsAsSlowAsTheChange(Cards):
        """Each redraw answers only once the change has reached the provider (or after
        10 s): run before the change, as it used to, the first one would wait in vain."""

        waited: list[bool] = []

        def update(self, view: object) -> bool:
            self.waited.append(applied.wait(10))
            return super().update(view)  # type: ignore[arg-type]

    cards = CardsAsSlowAsTheChange(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    provider.apply = recording_apply  # type: ignore[method-assign]
    assert Executor(wf, Tenants(provider), cards).run(request_id)  # type: ignore[arg-type]
    assert cards.waited[0] is True  # the "executing" redraw was still out when the change ran
    assert wf.get(request_id).status.value == "succeeded"
    assert any(
        "executing" in json.dumps(c.args["blocks"]).lower() for c in slack.calls_to("chat.update")
    )
