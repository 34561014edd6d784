"""Typed errors of the bot layer.

BotError
├── ConfigError         the config file or environment is unusable (names key and line)
├── StartupError        a long-running command cannot start (its port is taken, …)
└── CommandError        a person's command cannot be carried out; the message says why
    └── UsageError      the command text does not parse; carries the verb for usage help
"""

from __future__ import annotations

__all__ = ["BotError", "CommandError", "ConfigError", "StartupError", "UsageError"]


class BotError(Exception):
    """Base class for errors raised by the bot layer."""


class ConfigError(BotError):
    """The configuration or environment cannot be used; the message names the key."""


class StartupError(BotError):
    """A long-running command cannot start (exit 2); the message says what to change."""


class CommandError(BotError):
    """An expected failure of a person's command; ``str(error)`` is shown to them."""


class UsageError(CommandError):
    """The command text does not parse. ``verb`` selects the usage text to show, if known."""

    def __init__(self, message: str, *, verb: str | None = None) -> None:
        super().__init__(message)
        self.verb = verb
