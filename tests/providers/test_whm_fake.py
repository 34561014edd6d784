"""The loopback FakeWhm answers as the reference says WHM does (raw HTTP, no provider)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.whm import ACCESS_DENIED, FakeWhm


@pytest.fixture
def http(fake_whm: FakeWhm) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"whm root:{fake_whm.token}"}
    with httpx.Client(base_url=fake_whm.url, headers=headers, trust_env=False) as client:
        yield client


def post(http: httpx.Client, function: str, **params: str) -> dict[str, Any]:
    response = http.post(f"/json-api/{function}", data={"api.version": "1", **params})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def uapi(http: httpx.Client, user: str, function: str, **params: str) -> dict[str, Any]:
    body = post(
        http,
        "uapi_cpanel",
        **{"cpanel.user": user, "cpanel.module": "Email", "cpanel.function": function},
        **params,
    )
    assert body["metadata"]["result"] == 1  # even when the UAPI call fails
    result: dict[str, Any] = body["data"]["uapi"]
    return result


def test_get_and_post_both_work(fake_whm: FakeWhm, http: httpx.Client) -> None:
    got = http.get("/json-api/getdomainowner", params={"api.version": "1", "domain": "x.test"})
    posted = post(http, "getdomainowner", domain="bob-addon.test")
    assert got.json()["data"] == {"user": "bob"} and posted["data"] == {"user": "bob"}
    assert got.json()["metadata"] == {
        "command": "getdomainowner",
        "result": 1,
        "reason": "OK",
        "version": 1,
    }
    assert [c.method for c in fake_whm.calls] == ["GET", "POST"]


def test_bad_credentials_get_403_with_the_cpanelresult_body(fake_whm: FakeWhm) -> None:
    headers = {"Authorization": "whm root:nope"}
    response = httpx.post(
        f"{fake_whm.url}/json-api/myprivs", data={"api.version": "1"}, headers=headers
    )
    assert response.status_code == 403
    assert response.json() == ACCESS_DENIED
    assert fake_whm.calls[0].auth_ok is False


def test_without_api_version_the_reply_has_the_api_0_shape(http: httpx.Client) -> None:
    body = http.post("/json-api/suspend_outgoing_email", data={"user": "bob"}).json()
    assert "metadata" not in body and {"status", "statusmsg"} <= set(body)


def test_function_failures_are_http_200_with_result_0(http: httpx.Client) -> None:
    unknown = post(http, "frobnicate")["metadata"]
    assert unknown["result"] == 0
    assert (
        unknown["reason"] == "Unknown app (frobnicate) requested for this version (1) of the API."
    )
    missing = post(http, "suspend_outgoing_email", user="ghost")["metadata"]["reason"]
    assert missing.startswith("API failure: (XID ") and missing.endswith(
        "You do not have a user named “ghost”."
    )
    value = post(http, "set_tweaksetting", key="smtpmailgidonly", value="2")["metadata"]
    assert value["reason"] == "Value must be either 0 or 1"
    key = post(http, "get_tweaksetting", key="nope")["metadata"]["reason"]
    assert key == "Invalid tweaksetting key"
    summary = post(http, "accountsummary")["metadata"]["reason"]
    assert summary == "API failure: You must specify a user or domain to get a summary of."
    assert post(http, "accountsummary", user="ghost")["metadata"]["reason"] == (
        "Account does not exist."
    )


def test_reads_have_the_documented_payloads(fake_whm: FakeWhm, http: httpx.Client) -> None:
    assert post(http, "getdomainowner", domain="nowhere.test")["data"] == {"user": None}
    tweak = post(http, "get_tweaksetting", key="smtpmailgidonly")["data"]["tweaksetting"]
    assert tweak == {"key": "smtpmailgidonly", "value": 1}
    acct = post(http, "accountsummary", domain="x.test")["data"]["acct"][0]
    assert (acct["user"], acct["outgoing_mail_suspended"], acct["outgoing_mail_hold"]) == (
        "bob",
        0,
        0,
    )
    pops = uapi(http, "bob", "list_pops_with_disk", domain="x.test", get_restrictions="1")
    assert pops["status"] == 1 and pops["errors"] is None
    assert [p["email"] for p in pops["data"]] == ["a@x.test", "b@x.test"]
    assert {"suspended_outgoing", "hold_outgoing", "has_suspended"} <= set(pops["data"][0])
    plain = uapi(http, "bob", "list_pops_with_disk", domain="x.test", email="a")
    assert [p["email"] for p in plain["data"]] == ["a@x.test"]
    assert "suspended_outgoing" not in plain["data"][0]


def test_uapi_changes_check_ownership_and_report_repeats(
    fake_whm: FakeWhm, http: httpx.Client
) -> None:
    first = uapi(http, "bob", "suspend_outgoing", email="a@x.test")
    again = uapi(http, "bob", "suspend_outgoing", email="a@x.test")
    assert (first["status"], first["data"], again["status"], again["data"]) == (1, 1, 1, None)
    assert fake_whm.mailbox_state("a@x.test")["suspended_outgoing"] == 1

    unowned = uapi(http, "carol", "hold_outgoing", email="a@x.test")
    assert unowned["status"] == 0
    assert unowned["errors"] == ["You do not have an email account named “a@x.test”."]
    assert fake_whm.mailbox_state("a@x.test")["hold_outgoing"] == 0
    assert uapi(http, "bob", "hold_outgoing", email="nope")["errors"] == [
        "Please use a valid email format."
    ]


def test_account_and_tweak_changes_apply(fake_whm: FakeWhm, http: httpx.Client) -> None:
    post(http, "hold_outgoing_email", user="carol")
    post(http, "set_tweaksetting", key="smtpmailgidonly", value="0")
    assert fake_whm.account_state("carol") == {
        "outgoing_mail_suspended": 0,
        "outgoing_mail_hold": 1,
    }
    assert fake_whm.smtp_restriction == 0


def test_faults_are_consumed_in_order(fake_whm: FakeWhm, http: httpx.Client) -> None:
    fake_whm.fail_next("myprivs", "http503")
    fake_whm.fail_next("myprivs", "not_json")
    fake_whm.fail_next("Email::suspend_outgoing", "drop_change")
    assert http.post("/json-api/myprivs", data={"api.version": "1"}).status_code == 503
    assert http.post("/json-api/myprivs", data={"api.version": "1"}).text.startswith("<html>")
    assert post(http, "myprivs")["data"] == {"privileges": [{"all": 1}]}
    assert uapi(http, "bob", "suspend_outgoing", email="a@x.test")["status"] == 1
    assert fake_whm.mailbox_state("a@x.test")["suspended_outgoing"] == 0  # dropped
    with pytest.raises(ValueError, match="unknown failure kind"):
        fake_whm.fail_next("myprivs", "explode")
    with pytest.raises(ValueError, match="no account owns"):
        fake_whm.add_mailbox("a@nowhere.test")
