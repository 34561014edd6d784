"""How WinRM and script failures surface: typed errors, no secrets, stderr alone is not failure."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from providers.base import TargetResult
from providers.errors import (
    AuthError,
    ProtocolError,
    ProviderTimeout,
    Rejected,
    TargetNotFound,
    Unavailable,
)
from providers.exchange_script import classify_error
from providers.targets import Target, Verb
from providers.winrm_runner import WinRMSettings
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.winrm_host import CLIXML_PROGRESS, FakeWinRMHost, provider_for

BOB = Target.parse("bob@contoso.com")
SECRET = "s3cret-W1nRM!"


@pytest.fixture
def fault_org() -> FakeExchangeOrg:
    org = FakeExchangeOrg()
    org.add_mailbox("bob@contoso.com")
    return org


@pytest.fixture
def fault_host(fault_org: FakeExchangeOrg) -> Iterator[FakeWinRMHost]:
    with FakeWinRMHost(fault_org, password=SECRET) as host:
        yield host
    assert host.violations == []


def _texts(result: TargetResult) -> str:
    error = result.error
    assert error is not None
    return " ".join([error.user_message, error.detail, str(error), repr(error)])


def test_wrong_password_is_auth_error_without_the_password(fault_host: FakeWinRMHost) -> None:
    wrong = "Wr0ng-Pa55word"
    provider = provider_for(fault_host, password=wrong)
    (result,) = provider.status([BOB])
    assert isinstance(result.error, AuthError)
    assert result.message == "The Windows management host rejected the WinRM credentials."
    assert wrong not in _texts(result) and SECRET not in _texts(result)
    assert fault_host.commands == 0


def test_host_side_401_is_auth_error(fault_host: FakeWinRMHost) -> None:
    fault_host.faults.auth_fail = True
    (result,) = provider_for(fault_host).apply(Verb.DISABLE, [BOB])
    assert isinstance(result.error, AuthError)
    assert SECRET not in _texts(result)


@pytest.mark.parametrize("action", ["Create", "Command", "Send", "Receive"])
def test_wsman_fault_is_unavailable_and_cleans_up(
    fault_host: FakeWinRMHost, fault_org: FakeExchangeOrg, action: str
) -> None:
    fault_host.faults.soap_fault_on = action
    (result,) = provider_for(fault_host).apply(Verb.DISABLE, [BOB])
    assert isinstance(result.error, Unavailable)
    assert result.error.retryable
    assert "2150858770" in result.error.detail
    assert SECRET not in _texts(result)
    if action != "Create":
        assert fault_host.actions["Delete"] == 1  # the shell is not leaked
    assert fault_host.open_shells == 0
    assert fault_org.mailbox("bob@contoso.com").smtp_auth_disabled is None


def test_operation_timeouts_are_retried_until_the_answer(
    fault_host: FakeWinRMHost, fault_org: FakeExchangeOrg
) -> None:
    fault_host.faults.receive_timeouts = 3
    (result,) = provider_for(fault_host).apply(Verb.DISABLE, [BOB])
    assert result.ok, result.message
    assert fault_host.actions["Receive"] == 4
    assert fault_org.mailbox("bob@contoso.com").smtp_auth_disabled is True


def test_endless_operation_timeouts_hit_the_command_deadline(fault_host: FakeWinRMHost) -> None:
    fault_host.faults.receive_timeouts = 10**6
    provider = provider_for(fault_host, command_timeout_s=1)
    fault_host.faults.receive_hang_s = 0.2  # each poll takes a while, like a real Receive
    (result,) = provider.status([BOB])
    assert isinstance(result.error, Unavailable)
    assert result.message == "The Exchange command did not finish in time."
    assert fault_host.actions["Signal"] == 1 and fault_host.actions["Delete"] == 1


def test_http_read_timeout_is_unavailable(fault_host: FakeWinRMHost) -> None:
    fault_host.faults.receive_hang_s = 2.5
    provider = provider_for(fault_host, read_timeout_s=2, operation_timeout_s=1)
    (result,) = provider.status([BOB])
    assert isinstance(result.error, ProviderTimeout)  # a kind of Unavailable
    assert result.message == "The Windows management host did not answer within 2 s."


def test_unreachable_host_is_unavailable() -> None:
    org = FakeExchangeOrg()
    with FakeWinRMHost(org) as host:
        provider = provider_for(host)
    (result,) = provider.status([BOB])  # the host is gone now
    assert isinstance(result.error, Unavailable)
    assert host.password not in _texts(result)


def test_nonzero_exit_with_garbage_stdout_is_protocol_error(fault_host: FakeWinRMHost) -> None:
    fault_host.faults.garbage = (1, b"The term 'Connect-ExchangeOnline' is not recogni\xff")
    fault_host.faults.stderr = b'#< CLIXML\r\n<Objs><S S="Error">boom</S></Objs>'
    results = provider_for(fault_host).status([BOB, Target.tenant()])
    assert all(isinstance(r.error, ProtocolError) for r in results)
    assert "exit code 1" in results[0].error.detail  # type: ignore[union-attr]


def test_zero_exit_with_garbage_stdout_is_protocol_error(fault_host: FakeWinRMHost) -> None:
    fault_host.faults.garbage = (0, b"[1, 2, 3]")
    (result,) = provider_for(fault_host).status([BOB])
    assert isinstance(result.error, ProtocolError)


def test_progress_records_on_stderr_do_not_fail_a_run(
    fault_host: FakeWinRMHost, fault_org: FakeExchangeOrg
) -> None:
    fault_host.faults.stderr = CLIXML_PROGRESS
    (result,) = provider_for(fault_host).apply(Verb.ENABLE, [BOB])
    assert result.ok, result.message
    assert fault_org.mailbox("bob@contoso.com").smtp_auth_disabled is False


def test_module_chatter_before_the_document_is_tolerated(fault_host: FakeWinRMHost) -> None:
    fault_host.faults.stdout_prefix = b"WARNING: a newer EXO module is available.\r\n{not json\r\n"
    (result,) = provider_for(fault_host).status([BOB])
    assert result.ok, result.message
    assert result.state is not None and result.state.facts["inherited"] is True


def test_connect_failure_is_auth_error_for_every_target(
    fault_host: FakeWinRMHost, fault_org: FakeExchangeOrg
) -> None:
    provider = provider_for(fault_host)
    fault_org.thumbprint = "F" * 40  # the app's certificate was rotated on the tenant side
    results = provider.status([BOB, Target.tenant()])
    assert all(isinstance(r.error, AuthError) for r in results)
    assert results[0].message == (
        "Exchange Online refused the app-only sign-in: the certificate is not registered on "
        "the app: upload its public key to the app registration (Certificates & secrets)."
    )
    assert "MsalServiceException" in results[0].error.detail  # type: ignore[union-attr]
    assert fault_org.calls.connects == 0 and fault_org.calls.disconnects == 0


@pytest.mark.parametrize(
    ("fault", "cause", "host_reason"),
    [
        (
            lambda org: org.host_thumbprints.clear(),
            "the certificate with `certificate_thumbprint` is not in the Windows host's "
            "certificate store",
            "No certificate with thumbprint 0123456789ABCDEF0123456789ABCDEF01234567 was found",
        ),
        (
            lambda org: setattr(org, "app_id", "99999999-2222-3333-4444-555555555555"),
            "the tenant does not know the app: check `app_id`",
            "AADSTS700016",
        ),
        (
            lambda org: setattr(org, "consented", False),
            "admin consent is missing: grant Exchange.ManageAsApp admin consent on the app",
            "AADSTS65001",
        ),
        (
            lambda org: setattr(org, "organization", "other.onmicrosoft.com"),
            "Microsoft does not know the organisation: check `organization`",
            "AADSTS90002",
        ),
    ],
    ids=["certificate-not-on-host", "app-unknown", "consent-missing", "org-wrong"],
)
def test_a_failed_sign_in_is_worded_by_its_cause_and_keeps_the_hosts_reason(
    fault_host: FakeWinRMHost,
    fault_org: FakeExchangeOrg,
    fault: Callable[[FakeExchangeOrg], None],
    cause: str,
    host_reason: str,
) -> None:
    provider = provider_for(fault_host)  # configured as the org was set up
    fault(fault_org)  # then the host or the tenant differs from that configuration
    (result,) = provider.status([BOB])
    assert isinstance(result.error, AuthError)
    assert result.message.startswith(f"Exchange Online refused the app-only sign-in: {cause}")
    assert host_reason in (result.error.detail or "")


def test_missing_module_is_unavailable(
    fault_host: FakeWinRMHost, fault_org: FakeExchangeOrg
) -> None:
    fault_org.module_missing = True
    (result,) = provider_for(fault_host).status([BOB])
    assert isinstance(result.error, Unavailable)
    assert "ExchangeOnlineManagement" in result.message


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # EXO v3 REST: generic exception; type name in reason and in the middle message field.
        (
            {
                "type": "System.Exception",
                "reason": "",
                "fqid": "",
                "message": "Ex6F9304|Microsoft.Exchange.Configuration.Tasks."
                "ManagementObjectNotFoundException|Objekt nicht gefunden.",
            },
            TargetNotFound,
        ),
        # Remote PowerShell: only the FullyQualifiedErrorId names the failure category.
        (
            {
                "type": "System.Management.Automation.RemoteException",
                "reason": "",
                "fqid": "[Server=EX01,RequestId=1] [FailureCategory=Cmdlet-"
                "ManagementObjectNotFoundException] 6F1D1B6A,Microsoft.Exchange.GetCASMailbox",
                "message": "anything at all",
            },
            TargetNotFound,
        ),
        # English prose that merely mentions a type name is NOT a classification.
        (
            {
                "type": "System.Exception",
                "reason": "",
                "fqid": "",
                "message": "ManagementObjectNotFoundException could not be found",
            },
            Rejected,
        ),
    ],
)
def test_errors_are_classified_by_type_name_not_prose(
    record: dict[str, str], expected: type[Exception]
) -> None:
    assert type(classify_error(record, target="bob@contoso.com")) is expected


def test_winrm_settings_reject_credentials_in_url_and_bad_timeouts() -> None:
    with pytest.raises(ValueError):
        WinRMSettings("https://u:p@h/wsman", "ntlm", "u", "p")
    with pytest.raises(ValueError):
        WinRMSettings("https://h/wsman", "ntlm", "u", "p", read_timeout_s=5, operation_timeout_s=5)
    with pytest.raises(ValueError):
        WinRMSettings("https://h/wsman", "plaintext", "u", "p")
    assert "password" not in repr(WinRMSettings("https://h/wsman", "ntlm", "u", "pw-XYZ"))


@pytest.mark.parametrize("transport", ["ssl", "basic"])
def test_https_host_is_verified_against_the_configured_ca_bundle(
    fault_org: FakeExchangeOrg, tmp_path: Path, transport: str
) -> None:
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    bundle = tmp_path / "contoso-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with FakeWinRMHost(fault_org, tls=server_ctx) as host:
        trusted = provider_for(host, transport=transport, verify_tls=str(bundle))
        (ok,) = trusted.apply(Verb.DISABLE, [BOB])
        (untrusted,) = provider_for(host, transport=transport, verify_tls=True).status([BOB])
        (unchecked,) = provider_for(host, transport=transport, verify_tls=False).status([BOB])
    assert ok.ok, ok.message
    assert fault_org.mailbox("bob@contoso.com").smtp_auth_disabled is True
    assert isinstance(untrusted.error, Unavailable)
    assert "SSLError" in untrusted.error.detail
    assert unchecked.ok
    assert host.commands == 2  # the untrusted attempt never got as far as a command
