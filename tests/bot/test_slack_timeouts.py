"""Slack not answering at all (a hung connection): the card update gives up within the
client's timeout, the request is unaffected, and the card is brought up to date from the
database once Slack answers again."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from approvals import Database, TenantPolicy, Workflow
from bot.slack.cards import Cards
from bot.slack.http_client import KeepAliveWebClient
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-timeout-test"


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api/"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_hung_slack_leaves_the_card_stale_then_sync_fixes_it(db: Database, black_hole: str) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})), clock=lambda: now[0])
    with FakeSlack(token=TOKEN) as slack:
        good = Cards(KeepAliveWebClient(token=TOKEN, base_url=slack.api_url), wf)
        view = wf.submit(
            tenant="acme", verb="disable", targets=["a@x.test"], reason="", requester="UREQ"
        )
        good.post(view, "C0OPS")
        hung = Cards(KeepAliveWebClient(token=TOKEN, base_url=black_hole, timeout=1), wf)
        approved = wf.approve(view.id, actor="UAPP").view
        assert hung.update(approved) is False  # gave up after the timeout, no exception
        stale = wf.get(view.id).request
        assert stale.card_revision < stale.revision and stale.status == "approved"
        assert good.sync() == 0  # a timeout is transient: the next try waits 1 s (doubling)
        now[0] += timedelta(seconds=10)
        assert good.sync() == 1
        fresh = wf.get(view.id).request
        assert fresh.card_revision == fresh.revision
        (update,) = slack.calls_to("chat.update")
        assert "1 of 1 approvals" in str(update.args["blocks"])
