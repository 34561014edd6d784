"""The CLI through its real console script (`smtp-bot`), as an operator runs it: version,
quiet pipes, plain answers, the same duration words as the slash command."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from approvals import Database
from approvals.models import AuditEvent

SMTP_BOT = str(Path(sys.executable).with_name("smtp-bot"))
CONFIG = """\
tenants:
  acme:
    provider: whm
    url: https://127.0.0.1:9
    username: root
    token: ${ACME_WHM_TOKEN}
    verify_tls: false
    approvers: [U0AAA, U0BBB]
    channel: C0APPROVALS
"""


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "smtp-bot.yml").write_text(CONFIG)
    db_url = f"sqlite:///{tmp_path / 'smtp-bot.db'}"
    db = Database(db_url)
    db.upgrade()
    with db.transaction() as s:
        for n in range(5000):  # more than a pipe holds, so the writer meets the closed end
            s.add(AuditEvent(event="requested", actor=f"U0{n:06d}", tenant="acme", detail="x"))
    db.dispose()
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
        "DATABASE_URL": db_url,
        "SMTP_BOT_CONFIG": str(tmp_path / "smtp-bot.yml"),
        "ACME_WHM_TOKEN": "console-test-token-1",
    }


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SMTP_BOT, *argv], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_version_is_the_installed_package_version(env: dict[str, str]) -> None:
    done = _run(env, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"smtp-bot {metadata.version('smtp-bot')}"


def test_audit_export_into_a_closed_pipe_exits_0_quietly(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [SMTP_BOT, "audit", "export"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.read(200)  # `| head -c 200`
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, err
    assert first.startswith(b'{"actor"')
    assert err == ""


def test_db_current_prints_only_its_answer(env: dict[str, str]) -> None:
    done = _run(env, "db", "current")
    assert done.returncode == 0
    head = Database(env["DATABASE_URL"]).head_revision()
    assert done.stdout == f"current {head}, latest {head}\n"
    assert done.stderr == ""


def test_a_duration_with_a_space_gets_the_duration_hint(env: dict[str, str]) -> None:
    done = _run(env, "request", "disable", "acme", "a@acme.example", "--for", "1 hour")
    assert done.returncode == 2
    assert done.stderr == (
        "smtp-bot: “1 hour” is not a duration: write it like 90s, 15m, 1h or 2d\n"
    )


def test_top_level_help_names_every_break_glass_command(env: dict[str, str]) -> None:
    text = " ".join(_run(env, "--help").stdout.split())
    assert "break-glass commands (request, approve, deny, cancel, list, card)" in text


def _readme_commands() -> dict[tuple[str, ...], set[str]]:
    """Each `smtp-bot …` command the README shows, with the options it names."""
    import re

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    found: dict[tuple[str, ...], set[str]] = {}
    for span in re.findall(r"`smtp-bot ([^`]*)`", readme):
        words = span.replace("\\|", "|").split()
        command = tuple(w for w in words[:2] if re.fullmatch(r"[a-z]+", w))
        if not command or command[0] == "help":
            continue
        if command[0] not in ("db", "audit"):
            command = command[:1]
        found.setdefault(command, set()).update(re.findall(r"--[a-z][a-z-]*", span))
    return found


@pytest.mark.parametrize(
    ("command", "options"),
    sorted(_readme_commands().items()),
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_every_option_the_readme_names_is_in_the_commands_help(
    env: dict[str, str], command: tuple[str, ...], options: set[str]
) -> None:
    done = _run(env, *command, "--help")
    assert done.returncode == 0, done.stderr
    for option in options:
        assert option in done.stdout, f"`smtp-bot {' '.join(command)} --help` lacks {option}"


@pytest.mark.parametrize(
    ("command", "variables"),
    [
        ("serve", ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SMTP_BOT_CONFIG", "DATABASE_URL")),
        ("socket", ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SMTP_BOT_CONFIG", "DATABASE_URL")),
    ],
)
def test_serve_and_socket_help_describe_themselves_and_their_variables(
    env: dict[str, str], command: str, variables: tuple[str, ...]
) -> None:
    text = " ".join(_run(env, command, "--help").stdout.split())
    for variable in variables:
        assert variable in text
    assert "exit status:" in text
