"""WhmProvider against the loopback FakeWhm: every scope × verb, status, checks, dry run, bulk."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from providers.base import Provider
from providers.errors import (
    InvalidTarget,
    Rejected,
    TargetNotFound,
    VerificationFailed,
)
from providers.targets import Scope, Target, Verb
from providers.whm import WhmProvider
from tests.fakes.whm import FakeWhm

CHANGE_FUNCTIONS = {
    "set_tweaksetting",
    "suspend_outgoing_email",
    "unsuspend_outgoing_email",
    "hold_outgoing_email",
    "release_outgoing_email",
    "Email::suspend_outgoing",
    "Email::unsuspend_outgoing",
    "Email::hold_outgoing",
    "Email::release_outgoing",
}
MAILBOX = Target.parse("a@x.test")
ACCOUNT = Target.parse("account:bob")
TENANT = Target.tenant()


def changes(fake: FakeWhm) -> list[str]:
    """Names of the state-changing calls the fake received."""
    return [name for name in CHANGE_FUNCTIONS for _ in fake.calls_to(name)]


def names(fake: FakeWhm) -> list[str]:
    return [
        f"{c.params['cpanel.module']}::{c.params['cpanel.function']}"
        if c.function == "uapi_cpanel"
        else c.function
        for c in fake.calls
    ]


def test_is_a_provider_and_states_its_capabilities(whm: WhmProvider) -> None:
    assert isinstance(whm, Provider)
    caps = whm.capabilities()
    assert (Scope.TENANT, Verb.DISABLE) in caps and (Scope.TENANT, Verb.ENABLE) in caps
    assert (Scope.TENANT, Verb.HOLD) not in caps and (Scope.TENANT, Verb.RELEASE) not in caps
    assert not any(verb is Verb.RESET for _, verb in caps)
    for scope in (Scope.ACCOUNT, Scope.MAILBOX):
        for verb in (Verb.DISABLE, Verb.ENABLE, Verb.HOLD, Verb.RELEASE, Verb.STATUS):
            assert (scope, verb) in caps


S_OUT, HOLD_OUT = "suspended_outgoing", "hold_outgoing"  # list_pops_with_disk fields
A_SUSP, A_HOLD = "outgoing_mail_suspended", "outgoing_mail_hold"  # accountsummary fields
TWEAK = "smtpmailgidonly"

# (target, verb, state before, the one state-changing call expected, fact read back, value)
TABLE = [
    (MAILBOX, Verb.DISABLE, {}, "Email::suspend_outgoing", S_OUT, 1),
    (MAILBOX, Verb.ENABLE, {S_OUT: 1}, "Email::unsuspend_outgoing", S_OUT, 0),
    (MAILBOX, Verb.HOLD, {}, "Email::hold_outgoing", HOLD_OUT, 1),
    (MAILBOX, Verb.RELEASE, {HOLD_OUT: 1}, "Email::release_outgoing", HOLD_OUT, 0),
    (ACCOUNT, Verb.DISABLE, {}, "suspend_outgoing_email", A_SUSP, 1),
    (ACCOUNT, Verb.ENABLE, {A_SUSP: 1}, "unsuspend_outgoing_email", A_SUSP, 0),
    (ACCOUNT, Verb.HOLD, {}, "hold_outgoing_email", A_HOLD, 1),
    (ACCOUNT, Verb.RELEASE, {A_HOLD: 1}, "release_outgoing_email", A_HOLD, 0),
    (TENANT, Verb.DISABLE, {TWEAK: 0}, "set_tweaksetting", TWEAK, 1),
    (TENANT, Verb.ENABLE, {TWEAK: 1}, "set_tweaksetting", TWEAK, 0),
]


def _preset(fake: FakeWhm, target: Target, preset: dict[str, int]) -> None:
    if target.scope is Scope.MAILBOX:
        fake.add_mailbox(target.name, **preset)
    elif target.scope is Scope.ACCOUNT:
        fake.set_account_state(target.name, **preset)
    else:
        fake.smtp_restriction = preset["smtpmailgidonly"]


def _live(fake: FakeWhm, target: Target, fact: str) -> int | None:
    if target.scope is Scope.MAILBOX:
        return fake.mailbox_state(target.name)[fact]
    if target.scope is Scope.ACCOUNT:
        return fake.account_state(target.name)[fact]
    return fake.smtp_restriction


@pytest.mark.parametrize(("target", "verb", "preset", "call", "fact", "value"), TABLE)
def test_each_verb_and_scope_changes_then_reads_back(
    fake_whm: FakeWhm,
    whm: WhmProvider,
    target: Target,
    verb: Verb,
    preset: dict[str, int],
    call: str,
    fact: str,
    value: int,
) -> None:
    _preset(fake_whm, target, preset)
    assert _live(fake_whm, target, fact) != value

    [result] = whm.apply(verb, [target])

    assert result.ok, result.message
    assert result.state is not None
    assert result.state.facts[fact] == value and result.state.facts["verified"] is True
    assert _live(fake_whm, target, fact) == value
    assert changes(fake_whm) == [call]
    made = fake_whm.calls_to(call)[0]
    if target.scope is Scope.MAILBOX:
        assert made.params["email"] == "a@x.test" and made.params["cpanel.user"] == "bob"
    elif target.scope is Scope.ACCOUNT:
        assert made.params["user"] == "bob"
    else:
        assert made.params == {"key": "smtpmailgidonly", "value": str(value), "api.version": "1"}
    # The read-back comes after the change.
    read = {"mailbox": "Email::list_pops_with_disk", "account": "accountsummary"}
    sequence = names(fake_whm)
    assert sequence.index(call) < len(sequence) - 1
    assert sequence[-1] == read.get(target.scope.value, "get_tweaksetting")


def test_status_reads_every_scope(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.add_mailbox("held@x.test", hold_outgoing=1)
    fake_whm.set_account_state("carol", outgoing_mail_suspended=1, outgoing_mail_hold=1)
    fake_whm.smtp_restriction = 0
    targets = [
        Target.parse("held@x.test"),
        Target.parse("d@bob-addon.test"),
        Target.parse("account:carol"),
        TENANT,
    ]

    results = whm.status(targets)

    assert [r.message for r in results] == [
        "outgoing mail held (queued, not sent)",
        "outgoing mail allowed",
        "outgoing mail suspended (and held)",
        "SMTP Restrictions off: every local user may send to remote SMTP",
    ]
    assert results[1].state is not None and results[1].state.facts["account"] == "bob"
    assert results[2].state is not None
    assert results[2].state.facts == {"outgoing_mail_suspended": 1, "outgoing_mail_hold": 1}
    assert changes(fake_whm) == []
    pops = {c.params["email"]: c.params for c in fake_whm.calls_to("Email::list_pops_with_disk")}
    assert (pops["held"]["domain"], pops["held"]["get_restrictions"]) == ("x.test", "1")
    assert pops["held"]["cpanel.user"] == "bob" and pops["d"]["domain"] == "bob-addon.test"


def test_status_of_an_unset_tweak_is_reported_as_unset(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.smtp_restriction = None
    [result] = whm.status([TENANT])
    assert result.state is not None and result.state.facts == {"smtpmailgidonly": None}
    assert "not set" in result.message


@pytest.mark.parametrize(
    ("target", "verb"),
    [
        (TENANT, Verb.HOLD),
        (TENANT, Verb.RELEASE),
        (TENANT, Verb.RESET),
        (ACCOUNT, Verb.RESET),
        (MAILBOX, Verb.RESET),
        (Target.parse("0f8fad5b-d9cb-469f-a165-70867728950e"), Verb.DISABLE),
    ],
)
def test_unsupported_requests_are_invalid_and_call_nothing(
    fake_whm: FakeWhm, whm: WhmProvider, target: Target, verb: Verb
) -> None:
    [result] = whm.apply(verb, [target])
    assert isinstance(result.error, InvalidTarget)
    assert fake_whm.calls == []


def test_not_found_and_rejected_targets(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    unknown_domain = Target.parse("a@nowhere.test")
    missing_box = Target.parse("ghost@x.test")
    missing_account = Target.parse("account:ghost")

    status = whm.status([unknown_domain, missing_box, missing_account])
    disable = whm.apply(Verb.DISABLE, [unknown_domain, missing_box, missing_account])

    assert all(isinstance(r.error, TargetNotFound) for r in status)
    assert status[0].message == "no account on this server serves nowhere.test"
    assert status[1].message == "no mailbox ghost@x.test on this server (account bob)"
    assert "Account does not exist." in status[2].message
    assert isinstance(disable[0].error, TargetNotFound)
    assert isinstance(disable[1].error, Rejected)
    assert disable[1].message == "You do not have an email account named “ghost@x.test”."
    assert isinstance(disable[2].error, Rejected)
    assert disable[2].message.startswith("API failure: (XID ")
    assert disable[2].message.endswith("You do not have a user named “ghost”.")


def test_owner_lookup_is_cached_per_request(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    targets = [Target.parse(a) for a in ("a@x.test", "b@x.test", "c@y.test", "d@bob-addon.test")]
    targets += targets  # the same addresses twice, concurrently

    assert all(r.ok for r in whm.status(targets))
    lookups = [c.params["domain"] for c in fake_whm.calls_to("getdomainowner")]
    assert sorted(lookups) == ["bob-addon.test", "x.test", "y.test"]

    whm.status(targets[:1])
    assert len(fake_whm.calls_to("getdomainowner")) == 4  # a new request looks up again


def test_check_targets_confirms_existence_and_changes_nothing(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    targets = [
        TENANT,
        MAILBOX,
        Target.parse("ghost@y.test"),
        Target.parse("a@nowhere.test"),
        ACCOUNT,
        Target.parse("account:ghost"),
    ]

    results = whm.check_targets(targets)

    assert [r.target for r in results] == targets
    assert [r.ok for r in results] == [True, True, False, False, True, False]
    assert all(isinstance(r.error, TargetNotFound) for r in results if not r.ok)
    assert changes(fake_whm) == []
    assert not fake_whm.calls_to("get_tweaksetting")  # the tenant needs no call


@pytest.mark.parametrize(
    ("target", "verb", "planned"),
    [
        (MAILBOX, Verb.DISABLE, "uapi_cpanel Email::suspend_outgoing email=a@x.test"),
        (MAILBOX, Verb.ENABLE, "uapi_cpanel Email::unsuspend_outgoing email=a@x.test"),
        (MAILBOX, Verb.HOLD, "uapi_cpanel Email::hold_outgoing email=a@x.test"),
        (MAILBOX, Verb.RELEASE, "uapi_cpanel Email::release_outgoing email=a@x.test"),
        (ACCOUNT, Verb.DISABLE, "suspend_outgoing_email user=bob"),
        (ACCOUNT, Verb.ENABLE, "unsuspend_outgoing_email user=bob"),
        (ACCOUNT, Verb.HOLD, "hold_outgoing_email user=bob"),
        (ACCOUNT, Verb.RELEASE, "release_outgoing_email user=bob"),
        (TENANT, Verb.DISABLE, "set_tweaksetting key=smtpmailgidonly value=1"),
        (TENANT, Verb.ENABLE, "set_tweaksetting key=smtpmailgidonly value=0"),
    ],
)
def test_dry_run_reads_and_plans_but_changes_nothing(
    fake_whm: FakeWhm,
    make_whm: Callable[..., WhmProvider],
    target: Target,
    verb: Verb,
    planned: str,
) -> None:
    before = (fake_whm.mailbox_state("a@x.test"), fake_whm.account_state("bob"))
    tweak = fake_whm.smtp_restriction

    [result] = make_whm(dry_run=True).apply(verb, [target])

    assert result.ok and result.planned == (planned,)
    assert result.state is not None  # the current state, read live
    assert result.message == f"dry run, would call: {planned}"
    assert changes(fake_whm) == []
    assert fake_whm.calls, "a dry run still reads"
    assert (fake_whm.mailbox_state("a@x.test"), fake_whm.account_state("bob")) == before
    assert fake_whm.smtp_restriction == tweak


@pytest.mark.parametrize(
    ("target", "fault"),
    [
        (MAILBOX, "Email::suspend_outgoing"),
        (ACCOUNT, "suspend_outgoing_email"),
        (TENANT, "set_tweaksetting"),
    ],
)
def test_a_change_the_server_drops_is_a_verification_failure(
    fake_whm: FakeWhm, whm: WhmProvider, target: Target, fault: str
) -> None:
    fake_whm.smtp_restriction = 0
    fake_whm.fail_next(fault, "drop_change")

    [result] = whm.apply(Verb.DISABLE, [target])

    assert isinstance(result.error, VerificationFailed)
    assert not result.ok and result.state is None
    assert "now reads" in result.message
    assert len(fake_whm.calls_to(fault)) == 1  # accepted once, not silently retried


def test_bulk_request_returns_one_result_per_target_in_order(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    domains = ("x.test", "y.test", "bob-addon.test")
    boxes = [Target.parse(f"u{n}@{domains[n % 3]}") for n in range(30)]
    for box in boxes:
        fake_whm.add_mailbox(box.name)
    lost = [Target.parse(f"lost{n}@nowhere{n % 4}.test") for n in range(12)]
    guids = [Target.parse(f"0f8fad5b-d9cb-469f-a165-7086772895{n:02d}") for n in range(3)]
    accounts = [ACCOUNT, Target.parse("account:carol"), Target.parse("account:nobody")]
    targets = boxes[:10] + lost[:6] + accounts + guids + boxes[10:] + lost[6:] + [TENANT, TENANT]
    assert len(targets) == 50
    fake_whm.fail_next("Email::suspend_outgoing", "uapi_status0", 3)
    fake_whm.fail_next("Email::suspend_outgoing", "drop_change", 2)
    fake_whm.fail_next("getdomainowner", "http503", 1)  # retried, so not a failure

    results = whm.apply(Verb.DISABLE, targets)

    assert [r.target for r in results] == targets
    assert all(r.message for r in results)
    by_target = {r.target: r for r in results}
    assert all(isinstance(by_target[t].error, TargetNotFound) for t in lost)
    assert all(isinstance(by_target[t].error, InvalidTarget) for t in guids)
    assert [by_target[t].ok for t in accounts] == [True, True, False]
    assert isinstance(by_target[accounts[2]].error, Rejected)
    assert results[-1].ok and results[-2].ok
    failed = [by_target[t] for t in boxes if not by_target[t].ok]
    kinds = sorted(type(r.error).__name__ for r in failed)
    assert kinds == ["Rejected"] * 3 + ["VerificationFailed"] * 2
    rejected = [r.message for r in failed if isinstance(r.error, Rejected)]
    assert all(m.startswith("Simulated UAPI failure for “u") for m in rejected)
    ok_boxes = [t for t in boxes if by_target[t].ok]
    assert len(ok_boxes) == 25
    assert all(fake_whm.mailbox_state(t.name)["suspended_outgoing"] == 1 for t in ok_boxes)
    assert len(fake_whm.calls_to("getdomainowner")) == 3 + 4 + 1  # once per domain, one retry


def test_bulk_runs_in_parallel_within_max_concurrency(make_whm: Callable[..., WhmProvider]) -> None:
    with FakeWhm(token="t", latency_s=0.05) as fake:
        fake.add_account("bob", "x.test")
        targets = []
        for n in range(16):
            fake.add_mailbox(f"m{n}@x.test")
            targets.append(Target.parse(f"m{n}@x.test"))
        provider = make_whm(fake, token="t", max_concurrency=4)

        started = time.perf_counter()
        results = provider.apply(Verb.HOLD, targets)
        elapsed = time.perf_counter() - started

    assert all(r.ok for r in results)
    assert fake.max_in_flight == 4
    sequential = len(fake.calls) * 0.05
    assert elapsed < sequential / 2, (elapsed, sequential)


def test_a_failure_before_the_change_call_says_the_back_end_is_unchanged(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    fake_whm.add_account("early1", "early.test")
    fake_whm.add_mailbox("a@early.test")
    fake_whm.add_mailbox("b@early.test")
    fake_whm.fail_next("getdomainowner", "http503", 4)  # the first try and every retry
    (resolving,) = whm.apply(Verb.DISABLE, [Target.parse("a@early.test")])
    assert resolving.error is not None and resolving.error.before_change is True
    fake_whm.fail_next("Email::suspend_outgoing", "http503", 4)
    (changing,) = whm.apply(Verb.DISABLE, [Target.parse("b@early.test")])
    assert changing.error is not None and changing.error.before_change is False
