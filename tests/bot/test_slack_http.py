"""Slack calls on kept-alive connections: one connection per thread carries many calls,
a connection the server closed while idle is replaced without the caller noticing or the
call being sent twice, and Slack's errors, rate limits and silence surface exactly as they
do through slack_sdk's own client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.error import URLError

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.http_client import KeepAliveWebClient, Responder
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-keepalive-test"
T = TypeVar("T")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def in_new_thread(work: Callable[[], T]) -> T:
    """Run ``work`` on a fresh thread (so on a fresh connection pool) and return its result."""
    box: list[T] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join(30)
    return box[0]


def test_many_calls_share_one_connection_per_thread(slack: FakeSlack) -> None:
    def twenty_posts() -> int:
        client = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url)
        for i in range(20):
            assert client.chat_postMessage(channel="C1", text=f"hello {i}")["ok"]
        return 20

    in_new_thread(twenty_posts)
    assert len(slack.calls_to("chat.postMessage")) == 20
    assert slack.connections == 1


def test_threads_do_not_share_a_connection(slack: FakeSlack) -> None:
    client = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url)
    threads = [
        threading.Thread(target=lambda: client.chat_postMessage(channel="C1", text="x"))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(slack.calls_to("chat.postMessage")) == 4
    assert slack.connections == 4


def test_a_connection_closed_while_idle_is_replaced_and_the_call_sent_once(
    slack: FakeSlack,
) -> None:
    def post_drop_post() -> str:
        # no retry handlers: the replacement is the client's own, as with a new connection
        client = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
        client.chat_postMessage(channel="C1", text="first")
        slack.drop_connections()
        time.sleep(0.1)  # the close reaches the client's socket
        return client.chat_postMessage(channel="C1", text="second")["ts"]

    assert in_new_thread(post_drop_post)
    texts = [c.args["text"] for c in slack.calls_to("chat.postMessage")]
    assert texts == ["first", "second"]
    assert slack.connections == 2


def test_slack_errors_and_http_failures_raise_as_before(slack: FakeSlack) -> None:
    client = KeepAliveWebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="x")
    assert refused.value.response["error"] == "invalid_auth"
    slack.fail_next("chat.update", status=503)
    good = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as unavailable:
        good.chat_update(channel="C1", ts="1.1", text="x")
    assert unavailable.value.response.status_code == 503
    assert good.chat_postMessage(channel="C1", text="after the 503")["ok"]  # connection usable


def test_rate_limits_are_retried_by_slack_sdks_handler(slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    client = KeepAliveWebClient(
        token=TOKEN,
        base_url=slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    started = time.monotonic()
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert time.monotonic() - started >= 0.9  # it waited for Retry-After
    assert [c.failed for c in slack.calls_to("chat.postMessage")] == [True, False]


def test_a_server_that_never_answers_times_out_and_the_thread_recovers(
    slack: FakeSlack,
) -> None:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(4)
    try:
        url = f"http://127.0.0.1:{hole.getsockname()[1]}/api/"

        def hung_then_good() -> bool:
            hung = KeepAliveWebClient(token=TOKEN, base_url=url, timeout=1)
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                hung.chat_postMessage(channel="C1", text="x")
            assert time.monotonic() - started < 5
            good = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url)
            return bool(good.chat_postMessage(channel="C1", text="y")["ok"])

        assert in_new_thread(hung_then_good)
    finally:
        hole.close()


def test_responder_posts_what_bolts_respond_posts(slack: FakeSlack) -> None:
    def answer_twice() -> int:
        respond = Responder(slack.response_url("r1"))
        assert respond(response_type="ephemeral", text="first").status_code == 200
        assert respond(text="second").status_code == 200
        return 2

    in_new_thread(answer_twice)
    posts = slack.calls_to("response_url")
    assert [p.args for p in posts] == [
        {"text": "first", "response_type": "ephemeral"},
        {"text": "second"},
    ]
    assert slack.connections == 1


def test_a_proxy_still_goes_through_slack_sdks_own_path(slack: FakeSlack) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: a proxy that is down
    client = KeepAliveWebClient(
        token=TOKEN, base_url=slack.api_url, proxy=f"http://127.0.0.1:{port}", retry_handlers=[]
    )
    with pytest.raises(URLError):
        client.chat_postMessage(channel="C1", text="x")
    assert slack.calls_to("chat.postMessage") == []  # it went to the proxy, not around it
