"""The ``smtp-bot`` command: serve, db, the break-glass commands and the audit export."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import ValidationError

from approvals import Database, WorkflowError
from bot.cli import args as cli_args
from bot.cli import audit as cli_audit
from bot.cli import breakglass as cli_breakglass
from bot.cli import check
from bot.cli.check import config_warnings
from bot.cli.parser import build_parser
from bot.cli.startup import NEEDS, preflight
from bot.config.schema import AppConfig, load_config
from bot.config.settings import Settings
from bot.errors import BotError, CommandError, ConfigError, UsageError
from bot.ops.logs import configure_logging, quiet
from bot.ops.redaction import Scrubber, install_redaction
from bot.running.listen import bind_listener

if TYPE_CHECKING:
    from bot.running.serving import WorkerMode

__all__ = ["main"]

log = logging.getLogger("smtp_bot")


def _worker_mode(args: argparse.Namespace) -> WorkerMode:
    return "none" if args.no_worker else args.worker


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        names = ", ".join(_env_problem(e) for e in exc.errors(include_input=False))
        raise ConfigError(f"invalid environment: {names}") from None


def _env_problem(error: Any) -> str:
    """The variable, and why for a secret refused by bot.config.secrets (never the value)."""
    name = str(error["loc"][0])
    if error.get("type") == "value_error" and "control character" in str(error.get("msg")):
        return f"{name} (a newline or another control character inside it)"
    return name


def _open_db(settings: Settings) -> Database:
    return Database(settings.database_url)


def _ensure_schema(db: Database) -> None:
    """serve upgrades an empty SQLite file itself; anything else must be upgraded explicitly."""
    current, head = db.current_revision(), db.head_revision()
    if current == head:
        return
    if db.is_sqlite and db.is_empty():
        log.info("new SQLite database: creating the schema")
        db.upgrade()
        return
    raise ConfigError(
        f"the database is at migration {current or 'none'}, this version needs {head}: "
        "run `smtp-bot db upgrade` first"
    )


def _require_schema(settings: Settings) -> Database:
    """The CLI never creates a database: a missing or old one is a setup mistake."""
    url = sa.engine.make_url(settings.database_url)
    path = url.database
    if url.get_backend_name() == "sqlite" and path and path != ":memory:":
        if not Path(path).exists():
            raise ConfigError(
                f"no database at {path}: set DATABASE_URL or run `smtp-bot db upgrade`"
            )
    db = _open_db(settings)
    current, head = db.current_revision(), db.head_revision()
    if current != head:
        db.dispose()
        raise ConfigError(
            f"the database is at migration {current or 'none'}, this version needs {head}: "
            "run `smtp-bot db upgrade` first"
        )
    return db


def _breakglass(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    from bot.cli.breakglass_slack import attach_slack
    from bot.runtime import build_runtime

    runtime = build_runtime(settings, config, _require_schema(settings))
    try:
        with quiet("bot.slack.cards", "slack_sdk"):  # the CLI reports every Slack outcome itself
            return cli_breakglass.run(args, runtime, attach_slack(runtime, settings))
    finally:
        runtime.close()


def _drift(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    from bot.cli.drift import run
    from bot.runtime import build_runtime

    runtime = build_runtime(settings, config, _require_schema(settings))
    try:
        return run(args, runtime)
    finally:
        runtime.close()


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    db = _require_schema(settings)
    try:
        return cli_audit.export(args, db)
    finally:
        db.dispose()


def _secrets(settings: Settings, config: AppConfig | None) -> list[str]:
    values = settings.secret_values() + (config.secret_values() if config else [])
    try:
        password = sa.engine.make_url(settings.database_url).password
    except sa.exc.ArgumentError:  # unparseable: it may hold a password anywhere
        return [*values, settings.database_url]
    return values + ([str(password)] if password else [])


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """Every form of each secret masked: raw, escaped, bytes repr, URL-encoded."""
    return Scrubber(secrets)(text)


def _serve(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    from bot.running.serving import run_http
    from bot.runtime import build_runtime

    listener = bind_listener(args.host, args.port)  # a taken port is said before side effects
    try:
        db = _open_db(settings)
        _ensure_schema(db)
        runtime = build_runtime(settings, config, db)
    except BaseException:
        listener.close()
        raise
    return run_http(runtime, listener=listener, worker=_worker_mode(args))


def _socket(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    from bot.running.socket_mode import run_socket
    from bot.runtime import build_runtime

    health = None
    if args.health_port is not None:
        health = bind_listener(args.health_host, args.health_port)
    try:
        db = _open_db(settings)
        _ensure_schema(db)
        runtime = build_runtime(settings, config, db)
    except BaseException:
        if health is not None:
            health.close()
        raise
    return run_socket(runtime, health=health, worker=_worker_mode(args))


def _worker(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    from bot.running.serving import run_worker
    from bot.runtime import build_runtime

    if args.child_of is None:
        db = _open_db(settings)
        _ensure_schema(db)
        return run_worker(build_runtime(settings, config, db))
    from bot.ops.metrics import attach_metrics, busy_threads_gauge
    from bot.running.cpu_priority import lower_priority
    from bot.running.worker_process import die_with_parent

    die_with_parent(args.child_of)
    priority = lower_priority(settings.worker_nice, settings.worker_sched)  # acks first
    runtime = build_runtime(settings, config, _open_db(settings))  # the bot upgraded it
    metrics = attach_metrics(runtime)  # counted into the bot's directory (PROMETHEUS_MULTIPROC_DIR)
    busy = busy_threads_gauge(metrics)
    log.info("worker process CPU priority: %s", priority)
    return run_worker(runtime, tasks=sys.stdin.buffer, ready=sys.stdout.buffer, on_busy=busy.set)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    db = _open_db(settings)
    try:
        if args.db_command == "upgrade":
            db.upgrade()
            print(f"database at migration {db.current_revision()}")
        else:
            print(f"current {db.current_revision() or 'none'}, latest {db.head_revision()}")
    finally:
        db.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `smtp-bot audit export | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 0


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.command in ("serve", "db", "worker", "socket") else logging.WARNING
    configure_logging(level=level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # `db current` prints its answer only
    secrets: list[str] = []
    try:
        if args.command == "check":  # reports config and environment problems itself
            return check.run(args)
        if args.command in NEEDS:  # serve, socket, worker: every problem at once, nothing touched
            settings, config = preflight(args.command)
            secrets = _secrets(settings, config)
            install_redaction(secrets)
            if getattr(args, "child_of", None) is None:  # said by serve, not again by its worker
                for caution in config_warnings(config):
                    log.warning("%s", caution)
            if args.command == "worker":
                return _worker(args, settings, config)
            if args.command == "socket":
                return _socket(args, settings, config)
            return _serve(args, settings, config)
        settings = _settings()
        secrets = _secrets(settings, None)
        install_redaction(secrets)
        if args.command == "db":
            return _db(args, settings)
        if args.command == "audit":
            return _audit(args, settings)
        config = load_config(settings.config_path)
        secrets = _secrets(settings, config)
        install_redaction(secrets)
        if args.command == "drift-check":
            return _drift(args, settings, config)
        return _breakglass(args, settings, config)
    except UsageError as exc:
        print(f"smtp-bot: {_scrub(str(exc), secrets)}", file=sys.stderr)
        return 2
    except (CommandError, WorkflowError) as exc:  # a refusal: nothing was changed
        print(f"smtp-bot: refused: {_scrub(str(exc), secrets)}", file=sys.stderr)
        return cli_args.EXIT_REFUSED
    except BotError as exc:
        print(f"smtp-bot: {_scrub(str(exc), secrets)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # not a failure: main() ends quietly
    except Exception as exc:  # the database or another library failed: one clear line
        log.debug("fatal", exc_info=True)
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"smtp-bot: {type(exc).__name__}: {_scrub(first, secrets)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
