"""The queue read and the purge against the loopback FakeWhm (tests/fakes/whm_queue.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from providers.errors import VerificationFailed
from providers.targets import Scope, Target, Verb
from providers.whm import WhmProvider
from tests.fakes.whm import FakeWhm

MAILBOX = Target.parse("a@x.test")
ACCOUNT = Target.parse("account:bob")


def _fast(whm: WhmProvider, **changes: object) -> WhmProvider:
    whm.purge_settings = dataclasses.replace(whm.purge_settings, poll_s=0.02, **changes)
    return whm


def test_purge_and_queue_are_whm_capabilities_and_purge_has_no_whole_server(
    whm: WhmProvider,
) -> None:
    caps = whm.capabilities()
    assert {(Scope.MAILBOX, Verb.PURGE), (Scope.ACCOUNT, Verb.PURGE)} <= caps
    assert (Scope.TENANT, Verb.PURGE) not in caps
    assert (Scope.TENANT, Verb.QUEUE) in caps


def test_queue_report_totals_and_the_targets_part(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.queue.add("a@x.test", 3, recipients=("u@gmail.com", "v@yahoo.com"), when=1000)
    fake_whm.queue.add("a@x.test", 2, recipients=("w@gmail.com",), frozen=True, when=2000)
    fake_whm.queue.add("jimbob@x.test", 4, when=500, size=100)  # another sender
    fake_whm.queue.add("xa@x.test", 1, when=400)  # "contains" matches it; the exact check not
    report = whm.queue(MAILBOX)
    assert (report.total, report.frozen, report.oldest) == (10, 2, 400)
    assert report.size == 6 * 2048 + 4 * 100
    assert report.target_count == 5 and report.target_oldest == 1000
    assert report.top_domains == (("gmail.com", 5), ("yahoo.com", 3))
    assert [c.params.get("api.filter.enable") for c in fake_whm.calls_to("fetch_mail_queue")] == [
        None
    ]  # totals need the whole queue: one read, no filter


def test_purge_a_mailbox_removes_its_mail_only_and_says_how_many(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    fake_whm.queue.add("a@x.test", 1200)
    fake_whm.queue.add("a@x.test", 12, held=True)
    fake_whm.queue.add("xa@x.test", 7)  # matches the server-side "contains", not the address
    [result] = _fast(whm).apply(Verb.PURGE, [MAILBOX])
    assert result.ok, result.message
    assert result.message == "removed 1,212, 0 left"
    assert result.state is not None and result.state.facts["held_deleted"] == 12
    assert fake_whm.queue.count("a@x.test") == 0 and fake_whm.queue.count("xa@x.test") == 7
    removals = fake_whm.calls_to("remove_messages_mail_queue")
    assert len(removals) == 3  # 1,200 IDs in batches of 500
    assert all(set(c.params) == {"msgids", "api.version"} for c in removals)
    fetch = fake_whm.calls_to("fetch_mail_queue")[0].params
    assert fetch["api.filter.enable"] == "1" and fetch["api.filter.a.field"] == "sender"
    assert fetch["api.filter.a.type"] == "contains" and fetch["api.filter.a.arg0"] == "a@x.test"
    [held] = fake_whm.calls_to("Email::delete_held_messages")
    assert held.params["email"] == "a@x.test" and held.params["cpanel.user"] == "bob"


def test_purge_an_account_covers_every_mailbox_of_it(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.queue.add("a@x.test", 5)
    fake_whm.queue.add("d@bob-addon.test", 6)
    fake_whm.queue.add("c@y.test", 4)  # carol's
    [result] = _fast(whm).apply(Verb.PURGE, [ACCOUNT])
    assert result.message == "removed 11, 0 left"
    assert fake_whm.queue.count() == 4
    held = sorted(c.params["email"] for c in fake_whm.calls_to("Email::delete_held_messages"))
    assert held == ["a@x.test", "b@x.test", "d@bob-addon.test"]


def test_messages_that_stay_queued_are_reported_as_still_queued(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    fake_whm.queue.add("a@x.test", 4000)
    fake_whm.queue.add("a@x.test", 812, stuck=True)
    # removals land with the next read, so however loaded the machine only the stuck stay
    fake_whm.queue.remove_delay_s = 0.0
    [result] = _fast(whm, wait_s=1.0).apply(Verb.PURGE, [MAILBOX])
    assert not result.ok and isinstance(result.error, VerificationFailed)
    assert result.message == "removed 4,000, 812 still queued"


def test_an_empty_queue_purges_nothing_and_says_so(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    [result] = _fast(whm).apply(Verb.PURGE, [MAILBOX])
    assert result.message == "removed 0, 0 left"
    assert fake_whm.calls_to("remove_messages_mail_queue") == []


def test_dry_run_removes_nothing(fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]) -> None:
    fake_whm.queue.add("a@x.test", 3)
    [result] = make_whm(dry_run=True).apply(Verb.PURGE, [MAILBOX])
    assert result.planned and fake_whm.queue.count() == 3
    assert fake_whm.calls_to("remove_messages_mail_queue") == []


@pytest.mark.parametrize("bad", ["1U0001-000001-Lr,x", "../../etc", "a&b=c"])
def test_the_fake_refuses_malformed_message_ids(
    fake_whm: FakeWhm, whm: WhmProvider, bad: str
) -> None:
    from providers.errors import Rejected

    with pytest.raises(Rejected, match="not a valid message ID"):
        whm._client.call("remove_messages_mail_queue", {"msgids": bad})
