"""The Microsoft clouds a tenant can live in, and the three hosts each one uses.

A GCC High or DoD tenant exists only in its own cloud: its app registration, its sign-in
(Entra ID), its Exchange Online and its Microsoft Graph all have hosts of their own, and a
token from one cloud is worthless in another. Sources (docs/configuration.md lists them):
learn.microsoft.com/graph/deployments (Entra ID and Graph roots per cloud) and Microsoft's
US Government PowerShell samples, microsoft/Federal-Business-Applications (Exchange Online
connection URIs: outlook.office365.us for GCC High, webmail.apps.mil for DoD).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CLOUDS", "Cloud", "CloudName", "exchange_scope", "graph_scope"]

CloudName = Literal["global", "gcc-high", "dod"]


@dataclass(frozen=True, slots=True)
class Cloud:
    """Where a tenant signs in (``authority_host``) and where its two APIs answer."""

    name: str
    authority_host: str  # Entra ID: https://<host>/<tenant>/oauth2/v2.0/token
    exchange_url: str  # Exchange Online: <url>/adminapi/beta/<tenant>/InvokeCommand
    graph_url: str  # Microsoft Graph: <url>/v1.0/...


CLOUDS: dict[str, Cloud] = {
    "global": Cloud(
        "global",
        authority_host="https://login.microsoftonline.com",
        exchange_url="https://outlook.office365.com",
        graph_url="https://graph.microsoft.com",
    ),
    "gcc-high": Cloud(
        "gcc-high",
        authority_host="https://login.microsoftonline.us",
        exchange_url="https://outlook.office365.us",
        graph_url="https://graph.microsoft.us",
    ),
    "dod": Cloud(
        "dod",
        authority_host="https://login.microsoftonline.us",
        exchange_url="https://webmail.apps.mil",
        graph_url="https://dod-graph.microsoft.us",
    ),
}


def exchange_scope(exchange_url: str) -> str:
    """The app-only scope of Exchange Online at ``exchange_url`` (its resource + /.default)."""
    return exchange_url.rstrip("/") + "/.default"


def graph_scope(graph_url: str) -> str:
    """The app-only scope of Microsoft Graph at ``graph_url``."""
    return graph_url.rstrip("/") + "/.default"
