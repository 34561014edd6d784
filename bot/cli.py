"""The ``smtp-bot`` command: serve, db upgrade."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from approvals import Database
from bot.config import AppConfig, load_config
from bot.errors import BotError, ConfigError
from bot.redaction import install_redaction
from bot.settings import Settings

__all__ = ["main"]

log = logging.getLogger("smtp_bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smtp-bot", description="Slack chat-ops for outbound SMTP, under approval."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Slack app in HTTP mode")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply every pending migration")
    db_sub.add_parser("current", help="print the current and the latest migration")
    return parser


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        names = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise ConfigError(f"invalid environment: {names}") from None


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


def _serve(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    import uvicorn

    from bot.app import build_runtime, build_slack_app
    from bot.server import build_asgi_app

    db = _open_db(settings)
    _ensure_schema(db)
    runtime = build_runtime(settings, config, db)
    slack_app = build_slack_app(runtime)
    asgi = build_asgi_app(runtime, slack_app)
    log.info("listening on %s:%s with %d tenant(s)", args.host, args.port, len(config.tenants))
    try:
        uvicorn.run(asgi, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        runtime.close()
    return 0


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
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = _settings()
        install_redaction(settings.secret_values())
        if args.command == "db":
            return _db(args, settings)
        config = load_config(settings.config_path)
        install_redaction([*settings.secret_values(), *config.secret_values()])
        return _serve(args, settings, config)
    except BotError as exc:
        print(f"smtp-bot: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the database or another library failed: one clear line
        log.debug("fatal", exc_info=True)
        print(f"smtp-bot: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
