"""After-ack tasks: one JSON line each way, and unexpected errors reach the person as one
line with a reference, never as a traceback and never with the exception's text."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from bot.commands.access import Origin
from bot.slack import after_ack as tasks
from bot.slack.task import Press, Task, TaskError
from tests.fakes.slack_api import FakeSlack


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("database is locked (secret-ish detail)")


def test_every_kind_survives_the_pipe() -> None:
    press = Press("U0APP", 7, "C0OPS", "trigger.1")
    made = [
        Task.command({"user_id": "U1", "text": "status acme a@x.test", "token": "old-secret"}),
        Task.press(tasks.APPROVE, press),
        Task.press(tasks.CANCEL, press),
        Task.press(tasks.DENY_DIALOG, press),
        Task.home("U1"),
        Task.refuse_access(Origin("U1", "T1", "C1"), tenant="acme", problem="not here"),
        Task.refuse_input(actor="U1", tenant=None, verb="disable", problem="bad"),
    ]
    for task in made:
        line = task.to_line()
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert Task.from_line(line) == task
    assert "token" not in made[0].args  # Slack's deprecated verification token stays behind
    assert made[1].request_id == "7"


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"not json\n",
        b"[]\n",
        b'{"kind": "command"}\n',
        b'{"kind": "rm -rf", "args": {}}\n',
        b'{"kind": "home", "args": []}\n',
    ],
)
def test_a_line_that_is_not_a_task_is_refused(line: bytes) -> None:
    with pytest.raises(TaskError):
        Task.from_line(line)


def test_a_failing_press_gets_an_ephemeral_reference(caplog: pytest.LogCaptureFixture) -> None:
    told: list[tuple[str, str, str]] = []
    rt = SimpleNamespace(
        workflow=SimpleNamespace(approve=_boom),
        cards=SimpleNamespace(tell=lambda c, u, t: told.append((c, u, t))),
    )
    with caplog.at_level(logging.ERROR):
        tasks.run(rt, Task.press(tasks.APPROVE, Press("U0APP", 7, "C0OPS", None)))  # type: ignore[arg-type]
    ((channel, user, text),) = told
    assert (channel, user) == ("C0OPS", "U0APP")
    assert "reference `" in text and "nothing was changed" in text
    assert "locked" not in text  # the exception text stays in the log
    ref = text.split("`")[1]
    assert any(ref in r.getMessage() for r in caplog.records)


def test_a_failing_command_answers_through_its_response_url() -> None:
    with FakeSlack() as slack:
        rt = SimpleNamespace()  # no runtime at all: the step fails on its first use
        command = {"user_id": "U1", "text": "list", "response_url": slack.response_url("r1")}
        tasks.run(rt, Task.command(command))  # type: ignore[arg-type]
        call = slack.wait_for_call("response_url", lambda c: c.path.endswith("/r1"))
    assert call.args["response_type"] == "ephemeral"
    assert "reference `" in call.args["text"]
