"""Everything a long-running command needs, checked at once and before any side effect.

``serve`` used to report one missing thing per run (the config file, then a tenant's token,
then each Slack variable), the Slack ones only after creating the database and starting a
worker process. ``preflight`` reads the environment and the config, adds what the command
itself needs, and raises one ConfigError that lists every problem; nothing is touched."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.config.schema import AppConfig, load_config
from bot.config.settings import Settings
from bot.errors import ConfigError

__all__ = ["NEEDS", "environment_problems", "preflight"]

# The Slack variables each long-running command cannot start without.
NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "serve": (
        ("slack_bot_token", "SLACK_BOT_TOKEN"),
        ("slack_signing_secret", "SLACK_SIGNING_SECRET"),
    ),
    "socket": (("slack_bot_token", "SLACK_BOT_TOKEN"), ("slack_app_token", "SLACK_APP_TOKEN")),
    "worker": (),
}
_CHECK_HINT = "run `smtp-bot check` for a full report"


def environment_problems(exc: ValidationError) -> list[str]:
    """One line per unusable environment variable, with what is wrong in plain words."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        name = str(err["loc"][0]) if err["loc"] else "environment"
        ctx = err.get("ctx") or {}
        kind = err["type"]
        if kind in ("greater_than_equal", "greater_than"):
            what = f"must be at least {ctx.get('ge', ctx.get('gt'))}"
        elif kind in ("less_than_equal", "less_than"):
            what = f"must be at most {ctx.get('le', ctx.get('lt'))}"
        elif kind.endswith("_parsing"):
            what = "must be a number"
        else:
            what = str(err["msg"]).removeprefix("Value error, ")
        lines.append(what if kind == "value_error" else f"{name}: {what}")
    return lines


def preflight(command: str) -> tuple[Settings, AppConfig]:
    """Settings and config for ``command``, or ConfigError listing every problem at once."""
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = Settings()
    except ValidationError as exc:
        problems += [f"environment: {line}" for line in environment_problems(exc)]
    config_path = (
        settings.config_path
        if settings is not None
        else Path(os.environ.get("SMTP_BOT_CONFIG") or "smtp-bot.yml")
    )
    config: AppConfig | None = None
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        problems += list(exc.problems if len(exc.problems) > 1 else _lines(exc))
    if settings is not None:
        for field, variable in NEEDS.get(command, ()):
            if getattr(settings, field) is None:
                problems.append(f"environment: {variable} is not set ({command} needs it)")
    if problems or settings is None or config is None:
        listed = ConfigError.listing(problems, heading=f"{command} cannot start")
        raise ConfigError(f"{listed}\n{_CHECK_HINT}", problems=problems)
    return settings, config


def _lines(exc: ConfigError) -> Sequence[str]:
    """A single-problem ConfigError's text, without the "invalid config:" heading."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if lines and lines[0] == "invalid config:":
        lines = lines[1:]
    return lines or [str(exc)]
