"""The README quickstart, followed as written (issue 14, done when): its config block, with
only the server's address and the people's IDs filled in, leads to an approved whole-server
change and an approved mailbox change, against a loopback WHM over TLS and a loopback Slack.

The one liberty: the loopback WHM's certificate comes from a test CA, so `verify_tls` names
that CA bundle (the README's documented way to pin a self-signed WHM certificate) instead of
`true`, which would need the test CA in the system trust store."""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme

from tests.e2e.conftest import BOT_TOKEN, SIGNING_SECRET, bot_env, launch, stop
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_user import SlackSender
from tests.fakes.whm import FakeWhm

README = Path(__file__).parents[2] / "README.md"
REQUESTER = "U0ONCALL1"  # the person who types the command
APPROVER = "U0ONCALL2"  # "the second person's Slack member ID"
TOKEN = "README-WHM-TOKEN-1234"


def readme_config() -> str:
    """The YAML block of the quickstart's step 3, exactly as the README prints it."""
    text = README.read_text()
    step = text[text.index("### 3. Configure") :]
    return step[step.index("```yaml\n") + len("```yaml\n") : step.index("```\n", 10)]


class Quickstart:
    def __init__(self, tmp: Path) -> None:
        ca = trustme.CA()
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(server_ctx)
        bundle = tmp / "whm-ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        self.whm = FakeWhm(token=TOKEN, tls=server_ctx).start()
        self.slack = FakeSlack(token=BOT_TOKEN).start()
        config = readme_config()
        assert "url: https://whm.acme.example:2087" in config
        assert "approvers: [U0123ABCD]" in config and "verify_tls: true" in config
        config = (
            config.replace("https://whm.acme.example:2087", self.whm.url)
            .replace("verify_tls: true", f"verify_tls: {bundle}")
            .replace("U0123ABCD", APPROVER)
        )
        (tmp / "smtp-bot.yml").write_text(config)
        env = bot_env(tmp, self.slack, tmp / "smtp-bot.yml", ACME_WHM_TOKEN=TOKEN)
        env.pop("SMTP_BOT_CONFIG")  # the README's bot reads ./smtp-bot.yml
        self.process, url, _ = launch(tmp, env)
        self.db = sa.create_engine(f"sqlite:///{tmp / 'smtp-bot.db'}")
        self.sender = SlackSender(url, SIGNING_SECRET, self.slack.base_url + "/response/")
        channel = re.search(r"channel: (C\w+)", config)
        assert channel is not None
        self.channel = channel.group(1)

    def request(self, text: str) -> tuple[int, str]:
        response, name = self.sender.command(text, user=REQUESTER, channel="C0OPS")
        assert response.status_code == 200
        reply = self.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
        assert "waiting for approval" in reply.args["text"], reply.args["text"]
        request_id = int(reply.args["text"].split("#", 1)[1].split()[0])
        with self.db.connect() as conn:
            ts = conn.execute(
                sa.text("SELECT card_ref FROM change_request WHERE id = :id"), {"id": request_id}
            ).scalar_one()
        return request_id, ts

    def approve_and_wait(self, request_id: int, ts: str) -> str:
        self.sender.press(
            "smtp_approve", str(request_id), user=APPROVER, channel=self.channel, message_ts=ts
        )
        deadline = time.monotonic() + 30
        while True:
            with self.db.connect() as conn:
                status = conn.execute(
                    sa.text("SELECT status FROM change_request WHERE id = :id"),
                    {"id": request_id},
                ).scalar_one()
            if status in ("succeeded", "failed") or time.monotonic() > deadline:
                return str(status)
            time.sleep(0.1)

    def close(self) -> None:
        stop(self.process)
        self.db.dispose()
        self.slack.stop()
        self.whm.stop()


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[Quickstart]:
    world = Quickstart(tmp_path)
    try:
        yield world
    finally:
        world.close()


def test_the_readme_quickstart_approves_a_whole_server_and_a_mailbox_change(
    quickstart: Quickstart,
) -> None:
    whm = quickstart.whm
    whm.add_account("shop1", "shop.example")
    whm.add_mailbox("spammer@shop.example")
    whm.smtp_restriction = 0

    request_id, ts = quickstart.request('disable acme --reason "spam outbreak"')
    assert quickstart.approve_and_wait(request_id, ts) == "succeeded"
    assert whm.smtp_restriction == 1

    request_id, ts = quickstart.request('disable acme spammer@shop.example --reason "spam"')
    assert quickstart.approve_and_wait(request_id, ts) == "succeeded"
    assert whm.mailbox_state("spammer@shop.example")["suspended_outgoing"] == 1
