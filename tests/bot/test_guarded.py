"""Unexpected errors after the ack reach the person as one line with a reference, never as
a traceback, and never reach Bolt."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from bot.decisions import Press
from bot.handlers import _guarded


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("database is locked (secret-ish detail)")


def test_a_press_gets_an_ephemeral_reference(caplog: pytest.LogCaptureFixture) -> None:
    told: list[tuple[str, str, str]] = []
    rt = SimpleNamespace(cards=SimpleNamespace(tell=lambda c, u, t: told.append((c, u, t))))
    with caplog.at_level(logging.ERROR):
        _guarded(_boom)(rt, Press("U0APP", 7, "C0OPS", None))
    ((channel, user, text),) = told
    assert (channel, user) == ("C0OPS", "U0APP")
    assert "reference `" in text and "nothing was changed" in text
    assert "locked" not in text  # the exception text stays in the log
    assert any("reference" in r.getMessage() for r in caplog.records)


def test_a_command_gets_the_reference_through_respond() -> None:
    said: list[dict[str, str]] = []
    _guarded(_boom)(None, respond=lambda **kw: said.append(kw))
    assert said[0]["response_type"] == "ephemeral" and "reference" in said[0]["text"]
