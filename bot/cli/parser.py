"""The ``smtp-bot`` argument parser: every command, its options and its help text."""

from __future__ import annotations

import argparse
from importlib import metadata

from bot.cli import args as cli_args
from bot.cli import audit as cli_audit
from bot.cli import check
from bot.cli import drift as cli_drift

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smtp-bot",
        description="Slack chat-ops for outbound SMTP, under approval. When Slack is down, the "
        "break-glass commands (request, approve, deny, cancel, list, card) use the same "
        "workflow, policies and audit trail; `smtp-bot COMMAND --help` explains each.",
        epilog=cli_args.EXIT_STATUS,
        formatter_class=cli_args.HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the Slack app in HTTP mode",
        description="Serve Slack's requests on POST /slack/events (behind your HTTPS reverse "
        "proxy), plus GET /healthz and GET /metrics, and run jobs in a worker process it "
        "starts itself. Needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; reads the config "
        "from SMTP_BOT_CONFIG (default ./smtp-bot.yml) and the database from DATABASE_URL "
        "(default sqlite:///smtp-bot.db, created on first start).",
        epilog=cli_args.EXIT_STATUS,
        formatter_class=cli_args.HelpFormatter,
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: the reverse proxy in front is local, "
        "and /metrics and /healthz stay internal; 0.0.0.0 in a container)",
    )
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    _add_worker_options(serve)
    sock = sub.add_parser(
        "socket",
        help="run the Slack app in Socket Mode (SLACK_APP_TOKEN; no public URL needed)",
        description="Receive Slack's events over an outbound WebSocket (Socket Mode): no "
        "public URL. Needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (an xapp- token with "
        "connections:write); reads SMTP_BOT_CONFIG and DATABASE_URL as serve does.",
        epilog=cli_args.EXIT_STATUS,
        formatter_class=cli_args.HelpFormatter,
    )
    sock.add_argument(
        "--health-port",
        type=int,
        default=None,
        help="also serve /healthz and /metrics on this port",
    )
    sock.add_argument(
        "--health-host",
        default="127.0.0.1",
        help="address for --health-port (default 127.0.0.1)",
    )
    _add_worker_options(sock)
    worker = sub.add_parser(
        "worker",
        help="run jobs (approved changes, timed reverts) without serving Slack",
        description="Claims jobs from the database and runs them until SIGTERM/SIGINT, then "
        "finishes the jobs in flight (up to 30 s) and exits 0. Run several for scale-out on "
        "PostgreSQL; they wake each other with LISTEN/NOTIFY.",
    )
    # serve and socket start their worker process with this; not for people
    worker.add_argument("--child-of", type=int, default=None, help=argparse.SUPPRESS)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply every pending migration")
    db_sub.add_parser("current", help="print the current and the latest migration")
    cli_args.add_parsers(sub)
    cli_audit.add_parser(sub)
    check.add_parser(sub)
    cli_drift.add_parser(sub)
    return parser


def _version() -> str:
    try:
        return metadata.version("smtp-bot")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _add_worker_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--worker",
        choices=("process", "thread"),
        default="process",
        help="run jobs, housekeeping and the work after each acknowledgement in a worker "
        "process that this command starts and stops (default), or on threads of this process",
    )
    group.add_argument(
        "--no-worker",
        action="store_true",
        help="do not run jobs here (run `smtp-bot worker` separately)",
    )
