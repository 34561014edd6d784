"""Config problems in plain words, all at once, before anything starts (issue 14, items 1-5):
unreachable approval counts, verify_tls, plaintext back ends, start-up, message wording."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from bot.cli.check import config_warnings
from bot.config.schema import load_config
from bot.errors import ConfigError

SMTP_BOT = str(Path(sys.executable).with_name("smtp-bot"))
PYDANTIC_WORDS = (
    "Field required",
    "Extra inputs",
    "String should match",
    "Input should",
    "Input tag",
    "Value error",
    "does not match any of the expected tags",
)

WHM = """\
tenants:
  acme:
    provider: whm
    url: https://whm.acme.example:2087
    username: root
    token: ${ACME_WHM_TOKEN}
    verify_tls: true
    approvers: [U0AAAAAAA, U0BBBBBBB]
    channel: C0789IJKL
"""

EXCHANGE = """\
tenants:
  contoso:
    provider: exchange
    organization: contoso.onmicrosoft.com
    app_id: 11111111-2222-3333-4444-555555555555
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    winrm:
      url: https://mgmt01.contoso.example:5986/wsman
      transport: ntlm
      username: CONTOSO\\\\svc-smtpbot
      password: ${CONTOSO_WINRM_PASSWORD}
    approvers: [U0AAAAAAA, U0BBBBBBB]
"""


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_WHM_TOKEN", "tok-123456")
    monkeypatch.setenv("CONTOSO_WINRM_PASSWORD", "pw-456789")


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "smtp-bot.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith("invalid config:\n  "), message
    for words in PYDANTIC_WORDS:
        assert words not in message
    return list(err.value.problems)


def loads(tmp_path: Path, text: str):  # noqa: ANN201 - AppConfig
    path = tmp_path / "smtp-bot.yml"
    path.write_text(text)
    return load_config(path)


# --- 1. approvals that can never happen ----------------------------------------------------


def test_one_approver_cannot_give_the_two_whole_server_approvals_by_default(
    tmp_path: Path,
) -> None:
    text = WHM.replace("[U0AAAAAAA, U0BBBBBBB]", "[U0AAAAAAA]")
    assert problems(tmp_path, text) == [
        "tenants.acme.approvals_required_tenant_wide (smtp-bot.yml, line 3): needs 2 "
        "approvers, 1 listed: list more users (or a user group) in `approvers`, or set "
        "`approvals_required_tenant_wide: 1`"
    ]
    fixed = text.replace("    channel:", "    approvals_required_tenant_wide: 1\n    channel:")
    assert loads(tmp_path, fixed).tenants["acme"].approvals_required_tenant_wide == 1


def test_the_written_key_is_named_on_its_own_line(tmp_path: Path) -> None:
    text = WHM.replace("    channel:", "    approvals_required: 3\n    channel:")
    assert problems(tmp_path, text) == [
        "tenants.acme.approvals_required (smtp-bot.yml, line 9): needs 3 approvers, 2 listed: "
        "list more users (or a user group) in `approvers`, or set `approvals_required: 2`"
    ]


def test_a_user_group_makes_the_count_possible_at_load(tmp_path: Path) -> None:
    text = WHM.replace("[U0AAAAAAA, U0BBBBBBB]", "[S0ONCALL]")
    assert loads(tmp_path, text).tenants["acme"].approvers == ["S0ONCALL"]


def test_check_warns_when_only_a_non_approver_requester_can_reach_the_count(
    tmp_path: Path,
) -> None:
    config = loads(tmp_path, WHM)  # 2 approvers, 2 needed tenant-wide, anyone may request
    assert config_warnings(config) == [
        "tenant acme: `approvals_required_tenant_wide: 2` with 2 approver(s): a request by one "
        "of them can get at most 1 approval(s) and will expire"
    ]
    only_others = WHM.replace("    channel:", "    requesters: [U0CCCCCCC]\n    channel:")
    assert config_warnings(loads(tmp_path, only_others)) == []


# --- 2. verify_tls --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ['"yes"', "/nonexistent/ca.pem", '""'])
def test_verify_tls_that_is_not_a_bool_nor_a_file_is_refused(tmp_path: Path, value: str) -> None:
    [problem] = problems(tmp_path, WHM.replace("verify_tls: true", f"verify_tls: {value}"))
    assert problem.startswith("tenants.acme.verify_tls (smtp-bot.yml, line 7): ")
    assert "verify_tls takes true, false or the path of a CA bundle in PEM form" in problem


def test_verify_tls_file_that_is_not_pem_is_refused_and_a_real_bundle_loads(
    tmp_path: Path,
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    [problem] = problems(tmp_path, WHM.replace("verify_tls: true", f"verify_tls: {junk}"))
    assert f"{junk} does not load as PEM certificates" in problem
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    config = loads(tmp_path, WHM.replace("verify_tls: true", f"verify_tls: {bundle}"))
    assert config.tenants["acme"].verify_tls == str(bundle)


def test_winrm_verify_tls_is_checked_too(tmp_path: Path) -> None:
    text = EXCHANGE.replace("transport: ntlm", "transport: ntlm\n      verify_tls: /no/ca.pem")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("tenants.contoso.winrm.verify_tls (smtp-bot.yml, line 10): ")


# --- 3. plaintext ---------------------------------------------------------------------------


def test_http_whm_is_refused_unless_allowed_and_then_warned(tmp_path: Path) -> None:
    text = WHM.replace("https://whm.acme.example:2087", "http://whm.acme.example:2086")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("tenants.acme.url (smtp-bot.yml, line 4): `http://` would send")
    allowed = loads(
        tmp_path, text.replace("    channel:", "    allow_plaintext: true\n    channel:")
    )
    assert config_warnings(allowed)[0] == (
        "tenant acme: allow_plaintext is set, so its secret travels unencrypted to "
        "http://whm.acme.example:2086"
    )


@pytest.mark.parametrize("transport", ["ssl", "basic"])
def test_winrm_over_http_without_message_encryption_is_refused(
    tmp_path: Path, transport: str
) -> None:
    text = EXCHANGE.replace("https://mgmt01.contoso.example:5986", "http://mgmt01:5985").replace(
        "transport: ntlm", f"transport: {transport}"
    )
    [problem] = problems(tmp_path, text)
    assert problem.startswith("tenants.contoso.winrm (smtp-bot.yml, line 8): ")
    assert f"`transport: {transport}` on `http://` would send the WinRM password" in problem


def test_winrm_ntlm_over_http_is_encrypted_by_ntlm_and_loads(tmp_path: Path) -> None:
    text = EXCHANGE.replace("https://mgmt01.contoso.example:5986", "http://mgmt01:5985")
    assert not [w for w in config_warnings(loads(tmp_path, text)) if "allow_plaintext" in w]


# --- 5. plain words -------------------------------------------------------------------------


def test_a_typo_in_a_key_suggests_the_nearest_known_key(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, WHM.replace("    channel:", "    chanel:"))
    assert problem == (
        "tenants.acme.chanel (smtp-bot.yml, line 9): unknown key `chanel`; did you mean `channel`?"
    )


def test_a_typo_in_the_provider_names_the_known_ones(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, WHM.replace("provider: whm", "provider: whn"))
    assert problem == (
        "tenants.acme (smtp-bot.yml, line 3): unknown provider `whn` (did you mean `whm`?): "
        "expected `whm` or `exchange`"
    )


def test_a_value_of_the_wrong_form_says_what_is_expected(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, WHM.replace("[U0AAAAAAA, U0BBBBBBB]", "[bob, U0BBBBBBB]"))
    assert problem == (
        "tenants.acme.approvers.0 (smtp-bot.yml, line 8): not a valid value: expected a Slack "
        "user or user-group ID like U0123ABCD or S0123ABCD"
    )


def test_an_unclosed_bracket_is_reported_on_its_own_line(tmp_path: Path) -> None:
    text = WHM.replace("[U0AAAAAAA, U0BBBBBBB]", "[U0AAAAAAA, U0BBBBBBB")
    assert problems(tmp_path, text) == [
        "smtp-bot.yml, line 8: the `[` opened here is never closed with `]`"
    ]


def test_an_empty_file_says_it_is_empty(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "# nothing yet\n")
    assert problem.startswith("smtp-bot.yml: the file is empty; it needs a `tenants:` mapping")


def test_every_unset_variable_is_listed_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_WHM_TOKEN")
    monkeypatch.delenv("CONTOSO_WINRM_PASSWORD")
    both = WHM + "\n".join(EXCHANGE.splitlines()[1:]) + "\n"
    assert problems(tmp_path, both) == [
        "tenants.acme.token (smtp-bot.yml, line 6): environment variable ACME_WHM_TOKEN is not set",
        "tenants.contoso.winrm.password (smtp-bot.yml, line 19): environment variable "
        "CONTOSO_WINRM_PASSWORD is not set",
    ]


# --- 4. start-up: everything at once, before side effects -----------------------------------


def test_serve_lists_every_problem_at_once_and_touches_nothing(tmp_path: Path) -> None:
    (tmp_path / "smtp-bot.yml").write_text(WHM.replace("    channel:", "    chanel:"))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_", "SMTP_BOT_", "ACME_"))
    }
    done = subprocess.run(
        [SMTP_BOT, "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "smtp-bot: serve cannot start:",
        "  tenants.acme.token (smtp-bot.yml, line 6): environment variable ACME_WHM_TOKEN is "
        "not set",
        "  tenants.acme.chanel (smtp-bot.yml, line 9): unknown key `chanel`; did you mean "
        "`channel`?",
        "  environment: SLACK_BOT_TOKEN is not set (serve needs it)",
        "  environment: SLACK_SIGNING_SECRET is not set (serve needs it)",
        "run `smtp-bot check` for a full report",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smtp-bot.yml"]  # no database


def test_socket_names_its_own_variables(tmp_path: Path) -> None:
    (tmp_path / "smtp-bot.yml").write_text(WHM)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
        "ACME_WHM_TOKEN": "tok-123456",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SMTP_BOT_CONFIG": str(tmp_path / "smtp-bot.yml"),
    }
    done = subprocess.run(
        [SMTP_BOT, "socket"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "  environment: SLACK_APP_TOKEN is not set (socket needs it)" in done.stderr
    assert "SLACK_BOT_TOKEN" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smtp-bot.yml"]
