"""Executing `disable --all-accounts` against the loopback WHM with a real database: the
accounts and each one's state before are stored before the first change; a run that
crashes mid-way and is resumed still knows which accounts were suspended before (the server
by then says every changed account is suspended too); progress on the card in batches;
and the matching enable lifts exactly what the disable set."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from approvals import Database, TenantPolicy, Workflow
from approvals.workflow import EXECUTE
from bot.commands import all_accounts
from bot.commands.grammar import parse
from bot.running import executor as bot_executor
from bot.running.executor import Executor
from bot.slack.cards import Cards
from providers import Target, TargetResult, Verb
from providers.whm import WhmProvider, WhmSettings
from tests.fakes.slack_api import FakeSlack
from tests.fakes.whm import FakeWhm

TOKEN = "xoxb-all-accounts"
WHM_TOKEN = "ALLACCOUNTS-T0KEN"
USERS = [f"user{i:02d}" for i in range(30)]
BEFORE = set(USERS[:5])


class Crash(BaseException):
    """The worker process dies (not an error the executor would record)."""


class Watched:
    """The real WHM provider, with a look at the database before each change reaches it,
    and a crash after the first batch of changes has reached WHM (when asked)."""

    kind = "whm"

    def __init__(self, inner: WhmProvider, db: Database, *, crash_after: int | None) -> None:
        self.inner, self.db, self.crash_after = inner, db, crash_after
        self.batch_size = 10
        self.stored_before_first_change: list[tuple[str, str, str | None]] | None = None
        self.applied = 0

    def capabilities(self):  # type: ignore[no-untyped-def]
        return self.inner.capabilities()

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self.inner.check_targets(targets)

    def accounts(self):  # type: ignore[no-untyped-def]
        return self.inner.accounts()

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        if self.stored_before_first_change is None:
            with self.db.read() as s:
                rows = s.connection().exec_driver_sql(
                    "SELECT target, outcome, state FROM request_target ORDER BY position"
                )
                self.stored_before_first_change = [tuple(r) for r in rows]  # type: ignore[misc]
        results = self.inner.apply(verb, targets)
        self.applied += 1
        if self.crash_after is not None and self.applied >= self.crash_after:
            self.crash_after = None
            raise Crash  # the suspensions reached WHM; their results were never stored
        return results

    def close(self) -> None:
        self.inner.close()


class Tenants:
    def __init__(self, provider: Watched) -> None:
        self._provider = provider

    def provider(self, _name: str) -> Watched:
        return self._provider


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def whm() -> Iterator[FakeWhm]:
    with FakeWhm(token=WHM_TOKEN) as fake:
        for user in USERS:
            fake.add_account(user, f"{user}.test")
        for user in BEFORE:
            fake.set_account_state(user, outgoing_mail_suspended=1)
        yield fake


def _run(db: Database, slack: FakeSlack, whm: FakeWhm, text: str, *, crash_after=None):  # type: ignore[no-untyped-def]
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP", "UAPP2"})))
    inner = WhmProvider(WhmSettings(url=whm.url, username="root", token=WHM_TOKEN))
    provider = Watched(inner, db, crash_after=crash_after)
    cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    view = all_accounts.submit(
        wf,
        provider,
        parse(text),
        requester="UREQ",
        intake_id=None,
        limit=None,  # type: ignore[arg-type]
    )
    cards.post(view, "C0OPS")
    wf.approve(view.id, actor="UAPP")
    wf.approve(view.id, actor="UAPP2")
    return wf, provider, Executor(wf, Tenants(provider), cards), view.id  # type: ignore[arg-type]


def _suspended(whm: FakeWhm) -> set[str]:
    return {u for u in USERS if whm.account_state(u)["outgoing_mail_suspended"]}


def test_before_state_is_stored_before_the_first_change_and_progress_shows(
    db: Database, slack: FakeSlack, whm: FakeWhm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot_executor, "PROGRESS_INTERVAL_S", 0.0)
    wf, provider, executor, request_id = _run(db, slack, whm, "disable acme --all-accounts")
    assert executor.run(request_id)
    stored = provider.stored_before_first_change
    assert stored is not None and len(stored) == 30  # every account, before any change
    left = {t for t, outcome, s in stored if s and json.loads(s).get("left_as_it_was")}
    assert left == {f"account:{u}" for u in BEFORE}
    pending = [json.loads(s or "{}") for t, outcome, s in stored if outcome == "pending"]
    assert len(pending) == 25
    assert all(p["before"]["outgoing_mail_suspended"] == 0 for p in pending)
    assert _suspended(whm) == set(USERS)
    texts = [json.dumps(c.args["blocks"]) for c in slack.calls_to("chat.update")]
    assert any("15 of 30 done" in t for t in texts) and any("25 of 30 done" in t for t in texts)
    summaries = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(summaries) == 1
    assert "suspended for 25 of 30 accounts listed" in summaries[0].args["text"]
    assert wf.get(request_id).status.value == "succeeded"


def test_a_crashed_run_resumed_still_knows_the_state_before(
    db: Database, slack: FakeSlack, whm: FakeWhm
) -> None:
    wf, provider, executor, request_id = _run(
        db, slack, whm, "disable acme --all-accounts", crash_after=1
    )
    job = wf.jobs.claim("w1", request_id=request_id, kind=EXECUTE)
    assert job is not None
    with pytest.raises(Crash):
        executor.handle(job, worker="w1")
    assert len(_suspended(whm)) == 15  # 5 before + the first batch of 10, results unrecorded
    listed = len(whm.calls_to("listaccts"))
    wf.jobs.lease = timedelta(seconds=0)  # w1's lease runs out; w2 takes the job over
    wf.jobs.renew(job.id, "w1")
    executor.handle(wf.jobs.claim("w2", request_id=request_id), worker="w2")  # type: ignore[arg-type]
    assert len(whm.calls_to("listaccts")) == listed  # not listed again: it would see 15
    final = wf.get(request_id)
    assert final.status.value == "succeeded"
    left = {t.target for t in final.targets if json.loads(t.state or "{}").get("left_as_it_was")}
    assert left == {f"account:{u}" for u in BEFORE}  # not the 10 it suspended itself

    # the matching enable lifts the 25 the disable set, whatever the crash did
    wf2, _p, executor2, enable_id = _run(db, slack, whm, "enable acme --all-accounts")
    assert executor2.run(enable_id)
    assert wf2.get(enable_id).status.value == "succeeded"
    assert _suspended(whm) == BEFORE
    with pytest.raises(Exception, match="no `disable --all-accounts` of acme is in force"):
        _run(db, slack, whm, "enable acme --all-accounts")
