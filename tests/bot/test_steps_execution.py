"""A request of two steps (exceptions, then the organisation) executes in that order; if an
exception fails, the organisation is not switched and the result says so; a resumed run
keeps that rule. The card reads as one change."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest
from slack_sdk import WebClient

from approvals import Database, TargetOutcome, TenantPolicy, Workflow
from bot.running.executor import Executor
from bot.slack.cards import Cards
from bot.slack.views import card, result_text, summary_line
from providers import Scope, Target, TargetResult, TargetState, Verb
from providers.errors import TargetNotFound
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-steps-test"


class OrderedProvider:
    """Records every apply call (verb, targets); ``gone…`` mailboxes are not found."""

    kind = "exchange"
    batch_size = 2  # several chunks per step

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return frozenset({(Scope.MAILBOX, Verb.ENABLE), (Scope.TENANT, Verb.DISABLE)})

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        self.calls.append((verb.value, [t.key() for t in targets]))
        return [
            TargetResult(t, error=TargetNotFound(f"No mailbox {t}.", before_change=True))
            if t.name.startswith("gone")
            else TargetResult(t, state=TargetState(t, f"{verb} verified", {"ok": True}))
            for t in targets
        ]

    def close(self) -> None:
        return None


class Tenants:
    def __init__(self, provider: OrderedProvider) -> None:
        self._provider = provider

    def provider(self, _name: str) -> OrderedProvider:
        return self._provider


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def _request(db: Database, slack: FakeSlack, keep: list[str]):
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP", "UAPP2"})))
    cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    provider = OrderedProvider()
    view = wf.submit(
        tenant="contoso",
        verb="disable",
        targets=[*keep, "*"],
        target_verbs=[*(["enable"] * len(keep)), None],
        reason="keep them",
        requester="UREQ",
        tenant_wide=True,
    )
    cards.post(view, "C0EXCH")
    wf.approve(view.id, actor="UAPP")
    wf.approve(view.id, actor="UAPP2")
    return wf, provider, Executor(wf, Tenants(provider), cards), view.id  # type: ignore[arg-type]


def test_exceptions_first_then_the_org_switch_all_verified(db: Database, slack: FakeSlack) -> None:
    keep = ["scanner@x.test", "erp@x.test", "copier@x.test"]
    wf, provider, executor, request_id = _request(db, slack, keep)
    _, blocks = card(wf.get(request_id))
    text = json.dumps(blocks)
    assert "Disable SMTP AUTH org-wide, keeping these 3 mailboxes allowed" in text
    assert "ORG-WIDE DISABLE, KEEPING 3 ALLOWED (tenant-wide)" in text
    assert "org-wide disable, keeping 3 allowed" in summary_line(wf.get(request_id))
    assert executor.run(request_id)
    assert provider.calls == [
        ("enable", ["scanner@x.test", "erp@x.test"]),
        ("enable", ["copier@x.test"]),
        ("disable", ["*"]),
    ]
    final = wf.get(request_id)
    assert final.status.value == "succeeded"
    assert all(t.outcome == TargetOutcome.SUCCEEDED.value for t in final.targets)


def test_a_failed_exception_holds_the_org_switch_back_and_says_so(
    db: Database, slack: FakeSlack
) -> None:
    wf, provider, executor, request_id = _request(db, slack, ["scanner@x.test", "gone@x.test"])
    assert executor.run(request_id)
    assert [verb for verb, _ in provider.calls] == ["enable"]  # never "disable"
    final = wf.get(request_id)
    assert final.status.value == "failed"
    org = final.targets[-1]
    assert org.target == "*" and org.outcome == TargetOutcome.FAILED.value
    assert "not attempted" in (org.message or "")
    text = result_text(final)
    assert "The organisation was NOT switched: 1 of 2 exception(s) failed" in text
    assert "nothing was changed on this target" in text
    thread = slack.wait_for_call(
        "chat.postMessage", lambda c: "NOT switched" in c.args.get("text", "")
    )
    assert thread.args.get("thread_ts")


def test_a_resumed_run_still_holds_the_org_back_after_a_recorded_failure(
    db: Database, slack: FakeSlack
) -> None:
    from approvals import TargetRecord

    wf, provider, executor, request_id = _request(db, slack, ["scanner@x.test", "erp@x.test"])
    wf.begin_execution(request_id)  # an earlier run recorded one failure, then died
    wf.record_progress(request_id, [TargetRecord("erp@x.test", False, "refused")])
    job = wf.jobs.claim("w2", request_id=request_id, kind="execute")
    assert job is not None
    executor.handle(job, worker="w2")
    assert provider.calls == [("enable", ["scanner@x.test"])]
    assert wf.get(request_id).targets[-1].outcome == TargetOutcome.FAILED.value
