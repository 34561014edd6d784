"""The checks of ``smtp-bot check`` that talk to something: the database, Slack, and each
tenant's back end (WHM ``myprivs``, a WinRM round trip). Each returns a ``Result`` whose
message names the problem in an operator's words and never contains a secret."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
)
from winrm.protocol import Protocol

from approvals import Database
from bot.config.schema import AppConfig, ExchangeTenant, WhmTenant
from bot.config.settings import Settings
from providers.errors import ProviderError
from providers.winrm_runner import UTF8_CODEPAGE, WinRMSettings

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "OPTIONAL_SCOPES",
    "REQUIRED_SCOPES",
    "Level",
    "Result",
    "check_database",
    "check_exchange",
    "check_slack",
    "check_whm",
    "fail",
    "judge_privileges",
    "judge_scopes",
    "ok",
    "warn",
]


DEFAULT_TIMEOUT_S = 15.0


REQUIRED_SCOPES = {
    "commands": "the /smtp command",
    "chat:write": "approval cards and results",
    "usergroups:read": "approvers given as user groups (S…)",
    "im:write": "direct messages to approvers",
}


OPTIONAL_SCOPES = {
    "chat:write.public": "posting cards in public channels the bot was not invited to",
}


KNOWN_ACLS = {
    "acct-summary": "accountsummary (account state)",
    "cpanel-api": "uapi_cpanel (mailbox state and changes)",
}


class Level(StrEnum):
    """How a check came out; the value is what the output line starts with."""

    OK = "ok"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Result:
    """One check's outcome. ``setup`` marks a config/environment problem (exit status 2)."""

    name: str
    level: Level
    message: str
    setup: bool = False


def ok(name: str, message: str) -> Result:
    return Result(name, Level.OK, message)


def warn(name: str, message: str) -> Result:
    return Result(name, Level.WARN, message)


def fail(name: str, message: str, *, setup: bool = False) -> Result:
    return Result(name, Level.FAIL, message, setup)


def check_database(settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Result:
    """Reachable, and at the migration this version needs. Never creates a SQLite file."""
    name = "database"
    try:
        url = sa.engine.make_url(settings.database_url)
    except sa.exc.ArgumentError:
        return fail(name, "DATABASE_URL is not a database URL", setup=True)
    shown = url.render_as_string(hide_password=True)
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and url.database and url.database != ":memory:" and not Path(url.database).exists():
        return warn(
            name,
            f"no database at {url.database} yet: serve, socket or worker creates it on first "
            "start (or run smtp-bot db upgrade)",
        )
    connect_args = {} if sqlite else {"connect_timeout": max(1, int(timeout_s))}
    try:
        db = Database(settings.database_url, connect_args=connect_args, pool_size=1)
    except Exception as exc:  # unknown driver, bad URL: setup, not a server problem
        return fail(name, f"cannot use {shown}: {type(exc).__name__}", setup=True)
    try:
        db.ping()
        current, head = db.current_revision(), db.head_revision()
        empty = current is None and db.is_empty()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return fail(name, f"cannot reach {shown}: {type(exc).__name__}: {first}")
    finally:
        db.dispose()
    if current == head:
        return ok(name, f"{shown} reachable, at migration {head} (current)")
    if sqlite and empty:
        return warn(
            name,
            f"{shown} is empty: serve, socket or worker creates the schema on first start "
            "(or run smtp-bot db upgrade)",
        )
    return fail(
        name,
        f"{shown} is at migration {current or 'none'}, this version needs {head}: "
        "run smtp-bot db upgrade",
    )


def judge_scopes(header: str | None) -> Result:
    """Compare the token's scopes (``x-oauth-scopes``) with what the manifest's features need."""
    name = "slack scopes"
    if header is None:
        return warn(name, "Slack did not report the token's scopes (no x-oauth-scopes header)")
    granted = {s.strip() for s in header.split(",") if s.strip()}
    missing = [s for s in REQUIRED_SCOPES if s not in granted]
    if missing:
        needs = ", ".join(f"{s} ({REQUIRED_SCOPES[s]})" for s in missing)
        return fail(name, f"missing {needs}: add them in the app config and reinstall the app")
    absent = [s for s in OPTIONAL_SCOPES if s not in granted]
    if absent:
        why = ", ".join(f"{s} ({OPTIONAL_SCOPES[s]})" for s in absent)
        return warn(
            name, f"required scopes present; {why} missing: invite the bot to every card channel"
        )
    return ok(name, "every scope in manifest.yml is granted: " + ", ".join(sorted(granted)))


def check_slack(
    settings: Settings, config: AppConfig | None, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[Result]:
    """``auth.test`` through SLACK_API_URL, then the scopes it reports."""
    name = "slack"
    token = settings.slack_bot_token
    if token is None:
        return [fail(name, "not tested: SLACK_BOT_TOKEN is not set", setup=True)]
    host = urlsplit(settings.slack_base_url).hostname or settings.slack_base_url
    client = WebClient(
        token=token.get_secret_value(),
        base_url=settings.slack_base_url,
        timeout=max(1, int(timeout_s)),
        retry_handlers=[],
    )
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        status = getattr(exc.response, "status_code", "?")
        if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
            return [fail(name, f"Slack at {host} rejected SLACK_BOT_TOKEN ({error})")]
        return [fail(name, f"auth.test at {host} failed ({error or f'HTTP {status}'})")]
    except Exception as exc:  # URLError, timeout, TLS
        return [fail(name, f"cannot reach the Slack Web API at {host} ({type(exc).__name__})")]
    team, user = response.get("team_id"), response.get("user")
    results = [ok(name, f"auth.test at {host}: bot {user} in workspace {team}")]
    allowed = config.slack.allowed_team_ids if config is not None else None
    if allowed is not None and team not in allowed:
        results[0] = warn(
            name,
            f"auth.test ok, but workspace {team} is not in slack.allowed_team_ids: commands "
            "from it are refused",
        )
    headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
    results.append(judge_scopes(headers.get("x-oauth-scopes")))
    return results


def judge_privileges(privileges: dict[str, bool]) -> tuple[Level, str]:
    """Grade a WHM token's ``myprivs`` ACLs. cPanel does not document every ACL our calls need,
    so anything short of ``all`` is a warning that says so, never a certainty."""
    granted = sorted(name for name, on in privileges.items() if on)
    if "all" in granted:
        return Level.OK, "token has the all ACL (root-level: every call the bot makes)"
    shown = ", ".join(granted) or "none"
    missing = [f"{acl} for {why}" for acl, why in KNOWN_ACLS.items() if acl not in granted]
    gaps = f"; missing {', '.join(missing)}" if missing else ""
    return Level.WARN, (
        f"token ACLs: {shown}{gaps}; server-wide disable/enable (tweak settings) likely needs "
        "all, and cPanel does not publicly document the ACLs of *_outgoing_email, "
        "getdomainowner or set_tweaksetting: test a change, or use a token with all"
    )


def check_whm(name: str, tenant: WhmTenant, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Result:
    """``myprivs`` with the tenant's token: authenticates, reaches the server, and reports ACLs."""
    from providers.whm import WhmProvider, WhmSettings

    label = f"tenant {name} (whm)"
    try:
        provider = WhmProvider(
            WhmSettings(
                url=tenant.url,
                username=tenant.username,
                token=tenant.token.get_secret_value(),
                verify_tls=tenant.verify_tls,
                timeout_s=timeout_s,
                max_concurrency=1,
                retries=0,
            )
        )
    except ValueError as exc:  # e.g. a CA bundle that cannot be loaded
        return fail(label, f"tenants.{name}: {exc}", setup=True)
    try:
        privileges = provider.privileges()
    except ProviderError as exc:
        return fail(label, f"{tenant.url}: {exc.user_message}")
    finally:
        provider.close()
    level, message = judge_privileges(privileges)
    return Result(label, level, f"{tenant.url}: {message}")


def check_exchange(
    name: str, tenant: ExchangeTenant, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Result:
    """Open and close a WinRM shell with the configured transport and credentials: a cheap
    authenticated round trip. Connect-ExchangeOnline itself runs only with a real command."""
    label = f"tenant {name} (exchange)"
    winrm = tenant.winrm
    assert winrm is not None  # a transport: winrm tenant (REST tenants: bot/cli/check_rest.py)
    read_s = max(2, int(timeout_s))
    try:
        settings = WinRMSettings(
            url=winrm.url,
            transport=winrm.transport,
            username=winrm.username,
            password=winrm.password.get_secret_value(),
            verify_tls=winrm.verify_tls,
            read_timeout_s=read_s,
            operation_timeout_s=read_s - 1,
        )
    except ValueError as exc:
        return fail(label, f"tenants.{name}: {exc}", setup=True)
    host = urlsplit(settings.url).hostname
    protocol = Protocol(
        endpoint=settings.url,
        transport=settings.transport,  # type: ignore[arg-type]
        username=settings.username,
        password=settings.password,
        server_cert_validation="ignore" if settings.verify_tls is False else "validate",
        ca_trust_path=settings.verify_tls if isinstance(settings.verify_tls, str) else None,  # type: ignore[arg-type]
        read_timeout_sec=settings.read_timeout_s,
        operation_timeout_sec=settings.operation_timeout_s,
        proxy=None,
    )
    try:
        shell_id = protocol.open_shell(codepage=UTF8_CODEPAGE, noprofile=True)
        protocol.close_shell(shell_id)
    except Exception as exc:
        return fail(label, f"{host}: {_winrm_problem(exc)}")
    return ok(
        label,
        f"{host}: WinRM login ({settings.transport}) ok, shell opened and closed; the Exchange "
        "Online sign-in is not tested here",
    )


def _winrm_problem(exc: Exception) -> str:
    """A safe one-line reason: exception types and status codes only, never their text."""
    if isinstance(exc, AuthenticationError):
        return "the host rejected the WinRM credentials"
    if isinstance(exc, WinRMTransportError):
        if exc.code in (401, 403):
            return f"the host refused the WinRM login (HTTP {exc.code})"
        return f"the host answered HTTP {exc.code}"
    if isinstance(exc, WinRMOperationTimeoutError | requests.Timeout):
        return "the host did not answer in time"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS verification failed (set winrm.verify_tls to the host's CA bundle path)"
    if isinstance(exc, requests.RequestException):
        return f"the host could not be reached ({type(exc).__name__})"
    if isinstance(exc, WinRMError):
        return f"WinRM failed ({type(exc).__name__}; a missing Kerberos/CredSSP package?)"
    return f"unexpected {type(exc).__name__}"
