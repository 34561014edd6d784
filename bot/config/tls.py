"""``verify_tls``: true, false, or a CA bundle that exists and loads, checked at load time.

A path that is missing or is not PEM used to pass the config and then fail every command
of the tenant with HTTP 500; a quoted "yes" was taken for a path. Both are config errors
now, named with their key and line."""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["check_verify_tls"]


def check_verify_tls(value: bool | str) -> bool | str:
    """``value`` if it is usable; ValueError says what is expected otherwise."""
    if isinstance(value, bool):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(
            f"`{value}` is not true, false or a file: verify_tls takes true, false or the "
            "path of a CA bundle in PEM form"
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or "unreadable"
        raise ValueError(
            f"{value} does not load as PEM certificates ({reason}): verify_tls takes true, "
            "false or the path of a CA bundle in PEM form"
        ) from None
    return value
