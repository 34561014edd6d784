"""``smtp-bot check`` through ``bot.cli.main`` in-process, against a loopback Slack Web API, a
loopback WHM, the loopback WinRM host and real SQLite files."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
import yaml

from approvals import Database
from bot.cli.check import exit_code
from bot.cli.check_backends import (
    OPTIONAL_SCOPES,
    REQUIRED_SCOPES,
    Level,
    Result,
    judge_privileges,
    judge_scopes,
)
from bot.cli.main import main
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.slack_api import FakeSlack
from tests.fakes.whm import FakeWhm, server_tls
from tests.fakes.winrm_host import FakeWinRMHost

ROOT = Path(__file__).resolve().parents[2]
WHM_TOKEN = "CHECKWHMTOKEN4F7Q9Z"
BOT_TOKEN = "xoxb-check-test-token-8812"
SIGNING_SECRET = "check-signing-secret-77aa"
APP_TOKEN = "xapp-check-app-token-3141"
WINRM_PASSWORD = "Ch3ck-W1nRM-pa55!"
DB_PASSWORD = "Ch3ckDbPassw0rd"
ALL_SCOPES = "commands,chat:write,chat:write.public,usergroups:read,im:write"
SECRETS = (WHM_TOKEN, BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, WINRM_PASSWORD, DB_PASSWORD)

WHM_TENANT = """\
  {name}:
    provider: whm
    url: {url}
    username: root
    token: ${{ACME_WHM_TOKEN}}
    verify_tls: {verify}
    approvers: [U0APPROVER]
    approvals_required_tenant_wide: 1
    allow_plaintext: true
"""
EXCHANGE_TENANT = """\
  {name}:
    provider: exchange
    organization: contoso.onmicrosoft.com
    app_id: 11111111-2222-3333-4444-555555555555
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    winrm:
      url: {url}
      transport: basic
      username: CONTOSO\\svc-smtpbot
      password: ${{WINRM_PASSWORD}}
    approvers: [U0APPROVER]
    approvals_required_tenant_wide: 1
    allow_plaintext: true
"""

HEAD = Database("sqlite://").head_revision()  # the latest migration


@dataclass
class Run:
    code: int
    out: str
    err: str

    def line(self, name: str) -> str:
        """The output line of the check called ``name``."""
        found = [line for line in self.out.splitlines() if line[6:].startswith(name + ":")]
        assert len(found) == 1, f"no single line for {name!r} in:\n{self.out}"
        return found[0]

    def level(self, name: str) -> str:
        return self.line(name).split()[0]


@dataclass
class World:
    slack: FakeSlack
    whm: FakeWhm
    config: Path
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def write_config(self, *tenants: str) -> None:
        self.config.write_text("tenants:\n" + "".join(tenants))

    def whm_tenant(
        self, name: str = "acme", *, url: str | None = None, verify: str = "false"
    ) -> str:
        return WHM_TENANT.format(name=name, url=url or self.whm.url, verify=verify)

    def check(self, *argv: str) -> Run:
        code = main(["check", "--timeout", "3", *argv])
        captured = self.capsys.readouterr()
        for secret in SECRETS:
            assert secret not in captured.out + captured.err, f"{secret} leaked"
        return Run(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeSlack, FakeWhm]]:
    """Shared by the module's tests (FakeSlack takes half a second to stop); reset per test."""
    with FakeSlack(token=BOT_TOKEN) as slack, FakeWhm(token=WHM_TOKEN) as whm:
        yield slack, whm


@pytest.fixture
def world(
    servers: tuple[FakeSlack, FakeWhm],
    tmp_path: Path,
    sqlite_template: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    slack, whm = servers
    slack.token, slack.scopes = BOT_TOKEN, ALL_SCOPES
    slack.calls.clear()
    whm.privileges, whm.latency_s = {"all": 1}, 0.0
    whm.calls.clear()
    db = tmp_path / "smtp-bot.db"
    shutil.copy(sqlite_template, db)
    config = tmp_path / "smtp-bot.yml"
    env = {
        "SMTP_BOT_CONFIG": str(config),
        "DATABASE_URL": f"sqlite:///{db}",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "ACME_WHM_TOKEN": WHM_TOKEN,
        "WINRM_PASSWORD": WINRM_PASSWORD,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    w = World(slack, whm, config, tmp_path, monkeypatch, capsys)
    w.write_config(w.whm_tenant())
    return w


# --- the whole command ---------------------------------------------------------------------


def test_all_good_exits_0_with_one_line_per_check(world: World) -> None:
    run = world.check()

    assert run.code == 0, run.out
    lines = run.out.strip().splitlines()
    # the loopback WHM speaks plain HTTP (allow_plaintext): check says so, and nothing else
    assert [line.split()[0] for line in lines[:-1]] == ["WARN"] + ["ok"] * 5, run.out
    assert "2 tenant" not in run.out and "1 tenant(s) (whm)" in run.line("config")
    assert "tenant acme: allow_plaintext is set" in run.line("config")
    assert "usable: HTTP mode (serve) (Socket Mode needs SLACK_APP_TOKEN)" in run.line(
        "environment"
    )
    assert f"at migration {HEAD} (current)" in run.line("database")
    assert "bot smtp-bot in workspace T0TEST" in run.line("slack")
    assert "every scope in manifest.yml is granted" in run.line("slack scopes")
    assert "all ACL" in run.line("tenant acme (whm)")
    assert lines[-1] == "6 checks: 5 ok, 1 warning(s), 0 problem(s)"
    assert [c.method for c in world.slack.calls] == ["auth.test"]
    assert [c.function for c in world.whm.calls] == ["myprivs"]  # nothing else is touched


def test_unset_variable_in_config_exits_2_naming_key_and_line(world: World) -> None:
    world.monkeypatch.delenv("ACME_WHM_TOKEN")

    run = world.check()

    assert run.code == 2
    assert run.level("config") == "FAIL"
    assert (
        "tenants.acme.token (smtp-bot.yml, line 6): environment variable ACME_WHM_TOKEN is not set"
        in run.line("config")
    )
    assert run.level("database") == "ok" and run.level("slack") == "ok"  # the rest still ran
    assert "tenant acme" not in run.out


def test_invalid_config_lists_every_problem_on_one_line(world: World) -> None:
    world.config.write_text(world.config.read_text().replace("username: root", "usernme: root"))

    run = world.check()

    assert run.code == 2
    line = run.line("config")
    assert line.startswith("FAIL  config: invalid config: tenants.acme.username (smtp-bot.yml, ")
    assert "tenants.acme.username (smtp-bot.yml, line 3): `username` is required here" in line
    assert (
        "tenants.acme.usernme (smtp-bot.yml, line 5): unknown key `usernme`; "
        "did you mean `username`?" in line
    )


def test_missing_slack_variables_exit_2_and_modes_are_reported(world: World) -> None:
    world.monkeypatch.delenv("SLACK_SIGNING_SECRET")
    world.monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    socket_only = world.check()
    assert socket_only.code == 0
    assert "usable: Socket Mode (socket) (HTTP mode needs SLACK_SIGNING_SECRET)" in (
        socket_only.line("environment")
    )

    world.monkeypatch.delenv("SLACK_APP_TOKEN")
    neither = world.check()
    assert neither.code == 2 and neither.level("environment") == "FAIL"
    assert "neither SLACK_SIGNING_SECRET" in neither.line("environment")

    world.monkeypatch.delenv("SLACK_BOT_TOKEN")
    no_token = world.check()
    assert no_token.code == 2
    assert "SLACK_BOT_TOKEN is not set" in no_token.line("environment")
    assert "not tested" in no_token.line("slack")


def test_invalid_environment_value_exits_2(world: World) -> None:
    world.monkeypatch.setenv("SMTP_BOT_WORKER_THREADS", "lots")

    run = world.check()

    assert run.code == 2
    assert "FAIL  environment: invalid values: SMTP_BOT_WORKER_THREADS" in run.out


# --- database ------------------------------------------------------------------------------


def test_database_behind_head_fails(world: World) -> None:
    old = world.tmp / "old.db"
    db = Database(f"sqlite:///{old}")
    db.upgrade("0002")
    db.dispose()
    world.monkeypatch.setenv("DATABASE_URL", f"sqlite:///{old}")

    run = world.check()

    assert run.code == 1
    assert run.level("database") == "FAIL"
    expected = f"at migration 0002, this version needs {HEAD}: run smtp-bot db upgrade"
    assert expected in run.line("database")


def test_undelivered_cards_are_listed_with_request_channel_and_error(world: World) -> None:
    from approvals import TenantPolicy, Workflow
    from approvals.delivery import MAX_ATTEMPTS, CardDelivery

    db = Database(f"sqlite:///{world.tmp / 'smtp-bot.db'}")
    wf = Workflow(db, lambda _t: TenantPolicy(approvers=frozenset({"U0APPROVER"})))
    delivered = wf.submit(tenant="acme", verb="disable", targets=["a@x"], reason="", requester="U1")
    lost = wf.submit(tenant="acme", verb="enable", targets=["b@x"], reason="", requester="U1")
    delivery = CardDelivery(db)
    delivery.begin_post(lost.id, "C0GONE")
    delivery.posted(lost.id, channel="C0GONE", ref="1.0", revision=0)
    for _ in range(MAX_ATTEMPTS):
        delivery.failed(lost.id, "channel_not_found", permanent=True)
    db.dispose()

    run = world.check()

    assert run.code == 0, run.out  # a warning: the bot works, one card does not
    assert "1 request card(s) could not be delivered" in run.line("undelivered cards")
    assert run.level(f"card #{lost.id}") == "WARN"
    line = run.line(f"card #{lost.id}")
    assert "tenant acme, channel C0GONE: channel_not_found" in line
    assert f"card #{delivered.id}:" not in run.out


def test_missing_sqlite_file_is_a_warning_and_is_not_created(world: World) -> None:
    absent = world.tmp / "absent.db"
    world.monkeypatch.setenv("DATABASE_URL", f"sqlite:///{absent}")

    run = world.check()

    assert run.code == 0 and run.level("database") == "WARN"
    assert "creates it on first start" in run.line("database")
    assert not absent.exists()


def test_unreachable_postgres_fails_without_showing_the_password(world: World) -> None:
    world.monkeypatch.setenv(
        "DATABASE_URL", f"postgresql://smtpbot:{DB_PASSWORD}@127.0.0.1:1/smtpbot"
    )

    run = world.check()

    assert run.code == 1
    line = run.line("database")
    assert (
        line.startswith("FAIL")
        and "cannot reach postgresql://smtpbot:***@127.0.0.1:1/smtpbot: " in line
    )


# --- Slack ---------------------------------------------------------------------------------


def test_slack_rejecting_the_token_fails(world: World) -> None:
    world.slack.token = "xoxb-some-other-token"

    run = world.check()

    assert run.code == 1
    assert "rejected SLACK_BOT_TOKEN (invalid_auth)" in run.line("slack")


def test_slack_unreachable_fails(world: World) -> None:
    world.monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:1/api/")

    run = world.check()

    assert run.code == 1
    assert "cannot reach the Slack Web API at 127.0.0.1" in run.line("slack")


def test_scopes_missing_required_fails_and_optional_warns(world: World) -> None:
    world.slack.scopes = "commands,chat:write,usergroups:read,im:write"
    optional = world.check()
    assert optional.code == 0 and optional.level("slack scopes") == "WARN"
    assert "chat:write.public" in optional.line("slack scopes")

    world.slack.scopes = "commands,chat:write"
    required = world.check()
    assert required.code == 1 and required.level("slack scopes") == "FAIL"
    assert "usergroups:read" in required.line("slack scopes")
    assert "im:write" in required.line("slack scopes")


def test_workspace_outside_the_team_allowlist_warns(world: World) -> None:
    world.config.write_text(world.config.read_text() + "slack:\n  allowed_team_ids: [T0OTHER]\n")

    run = world.check()

    assert run.code == 0 and run.level("slack") == "WARN"
    assert "T0TEST is not in slack.allowed_team_ids" in run.line("slack")


# --- WHM -----------------------------------------------------------------------------------


def test_whm_bad_token_fails(world: World) -> None:
    world.monkeypatch.setenv("ACME_WHM_TOKEN", "WRONG" + WHM_TOKEN[5:])

    run = world.check()

    assert run.code == 1
    assert run.level("tenant acme (whm)") == "FAIL"
    assert "WHM rejected the API token" in run.line("tenant acme (whm)")


def test_whm_limited_privileges_warn_and_name_the_uncertainty(world: World) -> None:
    world.whm.privileges = {"all": 0, "acct-summary": 1, "list-accts": 1, "cpanel-api": 0}

    run = world.check()

    assert run.code == 0
    line = run.line("tenant acme (whm)")
    assert line.startswith("WARN")
    assert "token ACLs: acct-summary, list-accts" in line
    assert "missing cpanel-api" in line and "not publicly document" in line


def test_whm_unreachable_and_untrusted_tls_fail(world: World) -> None:
    ca = trustme.CA()
    with FakeWhm(token=WHM_TOKEN, tls=server_tls(ca)) as tls_whm:
        world.write_config(
            world.whm_tenant("gone", url="http://127.0.0.1:1"),
            world.whm_tenant("selfsigned", url=tls_whm.url, verify="true"),
        )
        run = world.check()

    assert run.code == 1
    assert "cannot reach WHM at 127.0.0.1" in run.line("tenant gone (whm)")
    assert "TLS verification failed" in run.line("tenant selfsigned (whm)")


def test_tenant_checks_run_concurrently_with_a_timeout(world: World) -> None:
    world.whm.latency_s = 0.6
    world.write_config(*(world.whm_tenant(f"t{i}") for i in range(4)))
    started = time.monotonic()
    run = world.check()
    elapsed = time.monotonic() - started
    assert run.code == 0, run.out
    assert elapsed < 1.8, f"4 tenants at 0.6 s each took {elapsed:.2f}s: not concurrent"

    world.whm.latency_s = 2.5
    world.write_config(world.whm_tenant())
    slow = world.check("--timeout", "1")
    assert slow.code == 1
    assert "did not answer myprivs within 1s" in slow.line("tenant acme (whm)")


# --- Exchange (WinRM) ----------------------------------------------------------------------


def test_winrm_good_and_bad_credentials(world: World) -> None:
    with FakeWinRMHost(FakeExchangeOrg(), password=WINRM_PASSWORD) as host:
        world.write_config(EXCHANGE_TENANT.format(name="contoso", url=host.url))
        good = world.check()
        assert good.code == 0, good.out
        assert "WinRM login (basic) ok" in good.line("tenant contoso (exchange)")
        assert host.actions["Create"] == 1 and host.actions["Delete"] == 1
        assert host.commands == 0 and host.open_shells == 0  # nothing ran, nothing left open

        world.monkeypatch.setenv("WINRM_PASSWORD", "not-" + WINRM_PASSWORD)
        bad = world.check()

    assert bad.code == 1
    assert "127.0.0.1: the host rejected the WinRM credentials" in bad.line(
        "tenant contoso (exchange)"
    )


def test_winrm_unreachable_fails(world: World) -> None:
    world.write_config(EXCHANGE_TENANT.format(name="contoso", url="http://127.0.0.1:1/wsman"))

    run = world.check()

    assert run.code == 1
    assert "the host could not be reached (ConnectionError)" in run.line(
        "tenant contoso (exchange)"
    )


# --- pieces and contracts ------------------------------------------------------------------


def test_scopes_match_the_manifests() -> None:
    for name in ("manifest.yml", "docs/manifest-socket-mode.yml"):
        manifest = yaml.safe_load((ROOT / name).read_text())
        assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(REQUIRED_SCOPES) | set(
            OPTIONAL_SCOPES
        ), name


def test_judge_scopes_and_privileges() -> None:
    assert judge_scopes(None).level is Level.WARN
    assert judge_scopes(" commands, chat:write ,usergroups:read,im:write").level is Level.WARN
    assert judge_scopes("chat:write").level is Level.FAIL
    assert judge_privileges({"all": True})[0] is Level.OK
    level, message = judge_privileges({})
    assert level is Level.WARN and message.startswith("token ACLs: none;")


def test_exit_code_prefers_setup_problems() -> None:
    ok, warn = Result("a", Level.OK, ""), Result("b", Level.WARN, "")
    fail, setup = Result("c", Level.FAIL, ""), Result("d", Level.FAIL, "", setup=True)
    assert exit_code([ok, warn]) == 0
    assert exit_code([ok, fail]) == 1
    assert exit_code([fail, setup]) == 2


def test_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "0  every check passed (warnings allowed)" in text
    assert "1  at least one check failed" in text
    assert "2  config or environment problem" in text
