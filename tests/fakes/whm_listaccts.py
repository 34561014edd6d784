"""``listaccts`` for the loopback WHM, as cPanel answers it (SRC ``Whostmgr/API/1/Accounts.pm``
``listaccts``, ``Whostmgr/Accounts/List.pm``): ``data.acct[]`` records with ``user``,
``domain``, ``owner``, ``suspended``, ``outgoing_mail_suspended``, ``outgoing_mail_hold``…;
``want=a,b`` keeps only those fields; ``searchtype`` outside the documented set is
"Unknown search type."; a server with no accounts answers ``result`` 1 without ``data``.
Only ``searchmethod=exact`` with ``searchtype=user`` is served among the searches (all the
bot needs); another search is refused so a test notices it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SEARCH_TYPES", "ListacctsFailure", "listaccts"]

SEARCH_TYPES = frozenset({"domain", "ip", "user", "package", "owner", "domain_and_user"})


class ListacctsFailure(Exception):
    """``metadata.result`` 0 with this reason."""


def listaccts(
    accounts: Iterable[Any], summary: Callable[[Any], dict[str, Any]], p: dict[str, str]
) -> dict[str, Any] | None:
    """The reply's ``data`` (None: WHM leaves it out), from the fake's account records."""
    if "searchtype" in p and p["searchtype"] not in SEARCH_TYPES:
        raise ListacctsFailure("Unknown search type.")
    records = [summary(a) for a in accounts]
    if p.get("search"):
        if p.get("searchtype") != "user" or p.get("searchmethod") != "exact":
            raise ListacctsFailure("this fake serves only exact user searches")
        records = [r for r in records if r["user"] == p["search"].lower()]
        if not records:
            raise ListacctsFailure("No accounts found.")
    if "want" in p:
        want = p["want"].split(",")
        records = [{k: r.get(k) for k in want} for r in records]
    return {"acct": records} if records else None
