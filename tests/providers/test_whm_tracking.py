"""``/smtp top``'s read against the loopback FakeWhm (tests/fakes/whm_tracking.py): exact
parameters, worst first, scripts as accounts, the sample scaled to exact account totals, the
queue per sender, and a token that may not read tracking."""

from __future__ import annotations

import time

import pytest

from providers.targets import Scope, Verb
from providers.whm import WhmProvider
from providers.whm_tracking import SAMPLE, TrackingForbidden
from tests.fakes.whm import FakeWhm


def _seed(fake: FakeWhm) -> None:
    t = fake.tracking
    t.add("spam@a.test", 40, user="alpha", ip="203.0.113.9")
    t.add("spam@a.test", 25, user="alpha", kind="defer", ip="203.0.113.9")
    t.add("ok@a.test", 5, user="alpha", ip="198.51.100.1")
    t.add("beta", 30, user="beta", domain="b.test", auth="localuser")  # a PHP script
    t.add("old@a.test", 500, user="alpha", when=int(time.time()) - 7200)  # outside 1h
    t.add("in@a.test", 50, user="-remote-")  # incoming mail: nobody's outgoing
    t.reached_max_emails.add("a.test")
    fake.queue.add("spam@a.test", 7)
    fake.queue.add("beta@host.fake.test", 3)
    fake.queue.add("other@b.test", 2)  # b.test is beta's domain


def test_top_is_a_whm_capability(whm: WhmProvider) -> None:
    assert (Scope.TENANT, Verb.TOP) in whm.capabilities()


def test_rows_worst_first_with_auth_ip_limit_and_queue(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    _seed(fake_whm)
    report = whm.top(3600, 10)
    rows = {r.target: r for r in report.rows}
    assert [r.target for r in report.rows] == ["spam@a.test", "account:beta", "ok@a.test"]
    spam = rows["spam@a.test"]
    assert (spam.sent, spam.deferfail, spam.auth, spam.top_ip) == (
        65,
        25,
        "dovecot_login",
        "203.0.113.9",
    )
    assert spam.hit_limit and not spam.estimated and spam.queued == 7
    beta = rows["account:beta"]
    assert beta.script and beta.address is None and beta.sent == 30 and not beta.hit_limit
    assert beta.queued == 2  # by domain; the script's own envelope domain belongs to nobody
    assert report.complete and report.sampled == 150 and report.messages == 100  # incoming left out
    assert len(fake_whm.calls) == 3  # user stats, one sample, the queue


def test_exact_parameters_reach_whm(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    _seed(fake_whm)
    report = whm.top(7200, 5)
    (stats,) = fake_whm.calls_to("emailtrack_user_stats")
    assert stats.params == {
        "api.version": "1",
        "starttime": str(report.start),
        "endtime": str(report.end),
        "deliverytype": "remote-or-faildefer",
        "api.sort.enable": "1",
        "api.sort.a.field": "SENDCOUNT",
        "api.sort.a.method": "numeric",
        "api.sort.a.reverse": "1",
        "api.chunk.enable": "1",
        "api.chunk.size": "1000",
        "api.chunk.start": "1",
    }
    (search,) = fake_whm.calls_to("emailtrack_search")
    assert report.end - report.start == 7200
    assert search.params["api.filter.a.arg0"] == str(report.start - 1)  # gt X: at least X+1
    assert search.params["api.filter.b.arg0"] == str(report.end + 1)
    assert {k: search.params[k] for k in ("success", "defer", "failure", "inprogress")} == {
        "success": "1",
        "defer": "1",
        "failure": "1",
        "inprogress": "0",
    }
    assert search.params["api.chunk.size"] == search.params["max_results_by_type"] == "5000"
    assert fake_whm.calls_to("fetch_mail_queue")[0].params == {"api.version": "1"}


def test_limit_cuts_rows(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    _seed(fake_whm)
    assert [r.target for r in whm.top(3600, 1).rows] == ["spam@a.test"]


def test_a_window_larger_than_the_sample_scales_to_exact_account_totals(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    now = int(time.time())
    t = fake_whm.tracking
    t.add("bulk@c.test", 9000, user="gamma", when=now - 3000)  # older than the sample
    t.add("bulk@c.test", 3000, user="gamma", when=now - 10)
    t.add("quiet@c.test", 3000, user="gamma", when=now - 5)
    t.add("dave@d.test", 20, user="delta", when=now - 3500)  # only in the account totals
    report = whm.top(3600, 10)
    assert not report.complete and report.sampled == SAMPLE
    rows = {r.target: r for r in report.rows}
    # gamma sent 15,000 in all; the newest 5,000 records split 3,000 : 2,000 in some order
    assert rows["bulk@c.test"].estimated and rows["quiet@c.test"].estimated
    assert rows["bulk@c.test"].sent + rows["quiet@c.test"].sent == 15000
    assert rows["account:delta"].sent == 20 and not rows["account:delta"].estimated
    assert rows["account:delta"].auth is None


@pytest.mark.parametrize("refusal", ["http403", "result0"])
def test_a_token_that_may_not_track_is_told_plainly(
    fake_whm: FakeWhm, whm: WhmProvider, refusal: str
) -> None:
    fake_whm.privileges = {"list-accts": 1, "acct-summary": 1}
    fake_whm.tracking_refusal = refusal
    with pytest.raises(TrackingForbidden) as caught:
        whm.top(3600, 10)
    assert "may not read email tracking" in caught.value.user_message
    assert "Track Email" in caught.value.user_message
    assert fake_whm.calls_to("myprivs")


def test_a_bad_token_stays_a_bad_token(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.token = "rotated"
    with pytest.raises(Exception) as caught:
        whm.top(3600, 10)
    assert not isinstance(caught.value, TrackingForbidden)
    assert "rejected the API token" in str(caught.value)


def test_the_fake_refuses_what_whm_would(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    """The fake checks parameters as cPanel does, so a provider mistake cannot pass."""
    client = whm._client
    from providers.errors import Rejected

    with pytest.raises(Rejected, match="unexpected parameter"):
        client.call("emailtrack_search", {"sender": "x@y.test"})
    with pytest.raises(Rejected, match="needs api.sort.a.method=numeric"):
        client.call(
            "emailtrack_user_stats", {"api.sort.enable": "1", "api.sort.a.field": "SENDCOUNT"}
        )
    with pytest.raises(Rejected, match="must be an integer"):
        client.call("emailtrack_user_stats", {"starttime": "1; DROP"})
