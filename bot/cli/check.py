"""``smtp-bot check``: is this installation ready to run? Config, environment, database, Slack
and every tenant's back end, each reported on one line.

Each check is a small function returning ``Result``s, so a problem is reported in the words an
operator needs (which key, which command to run) and the checks stay testable on their own.
Messages never contain a secret: they are built from safe provider messages and are scrubbed
against every known secret value before printing, as a second line of defence.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa
from pydantic import ValidationError

from bot.cli.args import HelpFormatter
from bot.cli.check_backends import (
    DEFAULT_TIMEOUT_S,
    Level,
    Result,
    check_database,
    check_exchange,
    check_slack,
    check_whm,
    fail,
    judge_privileges,
    judge_scopes,
    ok,
    warn,
)
from bot.cli.check_cards import check_cards
from bot.cli.check_rest import check_exchange_rest
from bot.config.approvers import approval_warnings
from bot.config.schema import AppConfig, ExchangeTenant, TenantConfig, WhmTenant, load_config
from bot.config.settings import Settings
from bot.errors import ConfigError
from bot.ops.logs import quiet
from bot.ops.redaction import Scrubber, install_redaction

__all__ = [
    "EXIT_STATUS",
    "Level",
    "Result",
    "add_parser",
    "check_config",
    "check_database",
    "check_environment",
    "check_exchange",
    "check_slack",
    "check_whm",
    "exit_code",
    "judge_privileges",
    "judge_scopes",
    "render",
    "run",
    "run_checks",
]

EXIT_STATUS = """\
exit status:
  0  every check passed (warnings allowed)
  1  at least one check failed: the database, Slack or a back end is unreachable, rejects
     the credentials, or is not ready (e.g. the database needs `smtp-bot db upgrade`)
  2  config or environment problem: the config file does not load (the message names the
     key and line), a required environment variable is unset or invalid"""

# Bot scopes the features in manifest.yml need, and why (tests compare them with the manifest).
# ACLs known from cPanel's ACL reference chart (whm.md §6) for the calls the bot makes.
# --- config and environment -----------------------------------------------------------------


def check_config(path: Path) -> tuple[Result, AppConfig | None]:
    """Load the config the way ``serve`` does; ConfigError text names the key and line."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        first, *problems = [line.strip() for line in str(exc).splitlines() if line.strip()]
        message = f"{first} {'; '.join(problems)}" if problems else first
        return fail("config", message, setup=True), None
    kinds = sorted({t.provider for t in config.tenants.values()})
    detail = f" ({', '.join(kinds)})" if kinds else ""
    cautions = config_warnings(config)
    if cautions:
        loads = f"{path} loads: {len(config.tenants)} tenant(s){detail}, but"
        return warn("config", f"{loads} {'; '.join(cautions)}"), config
    return ok("config", f"{path} loads: {len(config.tenants)} tenant(s){detail}"), config


def config_warnings(config: AppConfig) -> list[str]:
    """What loads but deserves a look: secrets over plaintext, approvals an approver's own
    request cannot reach. ``serve``, ``socket`` and ``worker`` log the same on every start."""
    plain = [
        f"tenant {name}: allow_plaintext is set, so its secret travels unencrypted to {url}"
        for name, url in sorted(config.plaintext_tenants().items())
    ]
    return plain + list(approval_warnings(config))


def check_environment(settings: Settings) -> Result:
    """Which ways of running are possible with the Slack variables that are set."""
    bot, signing, app = (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
    )
    if bot is None:
        return fail(
            "environment",
            "SLACK_BOT_TOKEN is not set: neither HTTP mode (serve) nor Socket Mode (socket) "
            "can start",
            setup=True,
        )
    modes = []
    if signing is not None:
        modes.append("HTTP mode (serve)")
    if app is not None:
        modes.append("Socket Mode (socket)")
    if not modes:
        return fail(
            "environment",
            "SLACK_BOT_TOKEN is set, but neither SLACK_SIGNING_SECRET (HTTP mode, serve) nor "
            "SLACK_APP_TOKEN (Socket Mode, socket) is",
            setup=True,
        )
    unusable = []
    if signing is None:
        unusable.append("HTTP mode needs SLACK_SIGNING_SECRET")
    if app is None:
        unusable.append("Socket Mode needs SLACK_APP_TOKEN")
    odd = []
    if not bot.get_secret_value().startswith("xoxb-"):
        odd.append("SLACK_BOT_TOKEN does not start with xoxb- (a bot token)")
    if app is not None and not app.get_secret_value().startswith("xapp-"):
        odd.append("SLACK_APP_TOKEN does not start with xapp- (an app-level token)")
    message = "usable: " + ", ".join(modes)
    if unusable:
        message += f" ({'; '.join(unusable)})"
    if odd:
        return warn("environment", message + "; but " + "; ".join(odd))
    return ok("environment", message)


# --- database -------------------------------------------------------------------------------


# --- Slack ----------------------------------------------------------------------------------


# --- tenants --------------------------------------------------------------------------------


def _one(check: Callable[..., Result], *args: object, **kwargs: object) -> list[Result]:
    return [check(*args, **kwargs)]


def check_tenant(name: str, tenant: TenantConfig, *, timeout_s: float) -> Result:
    if isinstance(tenant, WhmTenant):
        return check_whm(name, tenant, timeout_s=timeout_s)
    if isinstance(tenant, ExchangeTenant) and tenant.transport == "rest":
        return check_exchange_rest(name, tenant, timeout_s=timeout_s)
    return check_exchange(name, tenant, timeout_s=timeout_s)


# --- running them ---------------------------------------------------------------------------


def _concurrently(
    jobs: Sequence[tuple[str, Callable[[], list[Result]]]], deadline_s: float
) -> list[list[Result]]:
    """Run each job on a daemon thread; one that misses the deadline becomes a FAIL (a hung
    back end must not hold the command, nor the interpreter's exit)."""
    slots: list[list[Result] | None] = [None] * len(jobs)

    def work(index: int, name: str, job: Callable[[], list[Result]]) -> None:
        try:
            slots[index] = job()
        except Exception as exc:  # a bug or a library surprise: still one clean line
            slots[index] = [fail(name, f"check crashed: {type(exc).__name__}")]

    threads = [
        threading.Thread(target=work, args=(i, name, job), name=f"check-{name}", daemon=True)
        for i, (name, job) in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    stop_at = time.monotonic() + deadline_s
    for thread in threads:
        thread.join(max(0.0, stop_at - time.monotonic()))
    out: list[list[Result]] = []
    for (name, _job), slot in zip(jobs, slots, strict=True):
        # an empty list is an answer: the undelivered-cards check has nothing to say
        out.append(slot if slot is not None else [fail(name, f"no answer within {deadline_s:g}s")])
    return out


def run_checks(settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Result]:
    """Every check, in a fixed order; network checks run concurrently, each with a timeout."""
    config_result, config = check_config(settings.config_path)
    results = [config_result, check_environment(settings)]
    jobs: list[tuple[str, Callable[[], list[Result]]]] = [
        ("database", lambda: [check_database(settings, timeout_s=timeout_s)]),
        ("slack", lambda: check_slack(settings, config, timeout_s=timeout_s)),
        ("undelivered cards", lambda: check_cards(settings, timeout_s=timeout_s)),
    ]
    for name, tenant in sorted((config.tenants if config else {}).items()):
        job = partial(_one, check_tenant, name, tenant, timeout_s=timeout_s)
        jobs.append((f"tenant {name} ({tenant.provider})", job))
    # the calls have their own timeouts; the margin covers connection set-up and TLS
    for group in _concurrently(jobs, deadline_s=timeout_s + 5):
        results.extend(group)
    return results


def exit_code(results: Iterable[Result]) -> int:
    """2 for a config/environment problem, 1 for any other problem, else 0."""
    failed = [r for r in results if r.level is Level.FAIL]
    if any(r.setup for r in failed):
        return 2
    return 1 if failed else 0


def render(results: Sequence[Result], secrets: Sequence[str] = ()) -> str:
    """One line per check, then a summary; every line scrubbed of known secrets."""
    lines = [f"{r.level.value:<4}  {r.name}: {' '.join(r.message.split())}" for r in results]
    counts = {level: sum(r.level is level for r in results) for level in Level}
    lines.append(
        f"{len(results)} checks: {counts[Level.OK]} ok, {counts[Level.WARN]} warning(s), "
        f"{counts[Level.FAIL]} problem(s)"
    )
    return Scrubber(secrets)("\n".join(lines) + "\n")


def _secrets(settings: Settings) -> list[str]:
    """Every secret the checks could meet: environment tokens, config secrets (read again here
    because the config may not validate), the database password."""
    values = settings.secret_values()
    # an unusable config is reported by check_config, and its errors carry no values
    with contextlib.suppress(ConfigError):
        values += load_config(settings.config_path).secret_values()
    try:
        password = sa.engine.make_url(settings.database_url).password
    except sa.exc.ArgumentError:
        return [*values, settings.database_url]
    return values + ([str(password)] if password else [])


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The ``check`` command: print the results and return the exit status."""
    stream = out if out is not None else sys.stdout
    try:
        settings = Settings()
    except ValidationError as exc:
        names = ", ".join(str(e["loc"][0]) for e in exc.errors())
        result = fail("environment", f"invalid values: {names}", setup=True)
        stream.write(render([result]))
        return exit_code([result])
    secrets = _secrets(settings)
    install_redaction(secrets)
    # each outcome is a line below
    with quiet("slack_sdk", "urllib3", "winrm", "msal", "providers"):
        results = run_checks(settings, timeout_s=args.timeout)
    stream.write(render(results, secrets))
    return exit_code(results)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a number of seconds") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError("the timeout must be between 0 and 300 seconds")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``check`` on the top-level parser."""
    check = sub.add_parser(
        "check",
        help="check the config, environment, database, Slack and every tenant's back end",
        description="Checks, one line each (ok, WARN or FAIL): the config file loads; the "
        "Slack environment variables allow HTTP mode and/or Socket Mode; the database answers "
        "and is at the current migration; Slack auth.test accepts SLACK_BOT_TOKEN and reports "
        "the scopes manifest.yml asks for; each WHM tenant's token (myprivs: its ACLs); each "
        "Exchange tenant's WinRM login (a shell opened and closed), or, on transport: rest, a "
        "token from Entra ID, Get-TransportConfig over HTTPS and the app's Exchange "
        "permission and role. Network checks run "
        "concurrently, each with a timeout. Nothing is changed anywhere.",
        epilog=EXIT_STATUS,
        formatter_class=HelpFormatter,
    )
    check.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"per-check network timeout (default {DEFAULT_TIMEOUT_S:g})",
    )
