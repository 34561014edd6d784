"""Structured logs: JSON lines or text, the request ID on every line, redaction on top."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from bot.ops.logs import configure_logging, log_context, wants_json
from bot.ops.redaction import install_redaction

SECRET = "xoxb-very-secret-token-123"
ODD_SECRET = 'p"ss\\w0rd-ünï'  # characters JSON escapes or keeps as UTF-8


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_request_id_only_inside_its_context() -> None:
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    log = logging.getLogger("smtp_bot.test")
    log.info("before")
    with log_context(request_id=42):
        log.warning("inside %s", "args")
        with log_context(request_id="43"):
            logging.getLogger("some.library").info("nested")
        log.info("back")
    log.info("after")
    lines = _lines(stream)
    assert [(e["message"], e["request_id"]) for e in lines] == [
        ("before", ""),
        ("inside args", "42"),
        ("nested", "43"),
        ("back", "42"),
        ("after", ""),
    ]
    assert lines[1]["level"] == "WARNING" and lines[1]["logger"] == "smtp_bot.test"
    assert lines[2]["logger"] == "some.library"
    assert lines[0]["ts"].endswith("+00:00") and "T" in lines[0]["ts"]
    assert "exc" not in lines[0]


def test_request_id_does_not_leak_into_other_threads() -> None:
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    with log_context(request_id=7):
        thread = threading.Thread(target=lambda: logging.getLogger("t").info("other thread"))
        thread.start()
        thread.join()
    assert _lines(stream) == [{**_lines(stream)[0], "request_id": ""}]


def test_exceptions_are_one_json_line_with_the_traceback() -> None:
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("x").exception("it failed")
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "it failed"
    assert "Traceback" in entry["exc"] and "ValueError: bad value" in entry["exc"]


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize("order", ["redaction_first", "redaction_after"])
def test_secrets_never_appear_in_messages_args_or_tracebacks(fmt: str, order: str) -> None:
    stream = io.StringIO()
    if order == "redaction_first":  # cli.py installs redaction early; reconfiguring keeps it
        logging.getLogger().addHandler(logging.StreamHandler(io.StringIO()))
        install_redaction([SECRET, ODD_SECRET])
        configure_logging(json=fmt == "json", stream=stream)
    else:
        configure_logging(json=fmt == "json", stream=stream)
        install_redaction([SECRET, ODD_SECRET])
    log = logging.getLogger("smtp_bot.secrets")
    with log_context(request_id=9):
        log.warning("token is %s", SECRET)
        log.warning(f"password is {ODD_SECRET}")
        try:
            raise RuntimeError(f"connect failed with {SECRET} and {ODD_SECRET}")
        except RuntimeError:
            log.exception("oops")
        log.warning("stack", stack_info=True, extra={"note": SECRET})
    with log_context(request_id=SECRET):  # only the final-text pass sees this one
        logging.getLogger(f"lib.{ODD_SECRET}").warning("context")
    out = stream.getvalue()
    escaped = json.dumps(ODD_SECRET)[1:-1]
    for leak in (SECRET, ODD_SECRET, escaped, "very-secret"):
        assert leak not in out
    assert out.count("[redacted]") >= 6
    if fmt == "json":
        lines = _lines(stream)
        assert len(lines) == 5 and all(e["request_id"] == "9" for e in lines[:4])
        assert "RuntimeError: connect failed with [redacted]" in lines[2]["exc"]
        assert lines[4]["request_id"] == "[redacted]"
    else:
        assert out.count("[req 9]") == 4 and "[req [redacted]]" in out


def test_text_format_is_readable() -> None:
    stream = io.StringIO()
    configure_logging(json=False, stream=stream)
    log = logging.getLogger("smtp_bot.text")
    log.info("plain")
    with log_context(request_id=5):
        log.error("tagged")
    first, second = stream.getvalue().splitlines()
    assert first.endswith(" INFO smtp_bot.text: plain")
    assert second.endswith(" ERROR smtp_bot.text [req 5]: tagged")
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)


def test_format_choice_env_then_tty() -> None:
    assert wants_json(io.StringIO(), {}) is True  # not a terminal: production
    assert wants_json(_Tty(), {}) is False
    assert wants_json(_Tty(), {"SMTP_BOT_LOG_FORMAT": "json"}) is True
    assert wants_json(io.StringIO(), {"SMTP_BOT_LOG_FORMAT": "TEXT"}) is False
    assert wants_json(_Tty(), {"SMTP_BOT_LOG_FORMAT": "bogus"}) is False


def test_auto_format_and_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_BOT_LOG_FORMAT", "json")
    stream = _Tty()
    configure_logging(stream=stream, level="WARNING")
    logging.getLogger("lvl").info("hidden")
    logging.getLogger("lvl").warning("shown")
    assert [e["message"] for e in _lines(stream)] == ["shown"]
    assert len(logging.getLogger().handlers) == 1
