"""``smtp-bot check``: the cards the bot gave up delivering (the channel is gone, the bot is
not in it…), so an operator sees which requests nobody in Slack can see or act on."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from approvals import Database
from approvals.delivery import CardDelivery
from bot.cli.check_backends import Result, warn
from bot.config.settings import Settings

__all__ = ["check_cards"]

SHOWN = 20


def check_cards(settings: Settings, *, timeout_s: float) -> list[Result]:
    """One WARN line per undeliverable card; nothing when there is none or the database is
    unusable (the database check reports that). Never creates a SQLite file."""
    try:
        url = sa.engine.make_url(settings.database_url)
    except sa.exc.ArgumentError:
        return []
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and (not url.database or url.database == ":memory:"):
        return []
    if sqlite and not Path(url.database or "").exists():
        return []
    connect_args = {} if sqlite else {"connect_timeout": max(1, int(timeout_s))}
    try:
        db = Database(settings.database_url, connect_args=connect_args, pool_size=1)
    except Exception:
        return []
    try:
        if db.current_revision() != db.head_revision():
            return []
        delivery = CardDelivery(db)
        total = delivery.count_undeliverable()
        cards = delivery.undeliverable(limit=SHOWN)
    except Exception:
        return []
    finally:
        db.dispose()
    if not total:
        return []
    more = f"; {total - len(cards)} more not shown" if total > len(cards) else ""
    results = [
        warn(
            "undelivered cards",
            f"{total} request card(s) could not be delivered to Slack and were given up "
            f"(approve or deny those with the CLI, or fix the channel){more}",
        )
    ]
    for c in cards:
        results.append(
            warn(
                f"card #{c.request_id}",
                f"tenant {c.tenant}, channel {c.channel or '(none)'}: {c.error} "
                f"(given up {c.failed_at:%Y-%m-%d %H:%M}Z)",
            )
        )
    return results
