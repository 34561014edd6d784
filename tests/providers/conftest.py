"""Fixtures: a loopback FakeWhm (HTTP or HTTPS), the Exchange REST fake, providers aimed at them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
import trustme

from providers.exchange_rest import ExchangeRestProvider
from providers.whm import WhmProvider, WhmSettings
from tests.fakes.exchange_emulator import FakeExchangeOrg
from tests.fakes.exchange_rest import FakeExchangeRest, FakeExoTokens
from tests.fakes.whm import DEFAULT_TOKEN as WHM_TOKEN
from tests.fakes.whm import FakeWhm, server_tls


def _seed(fake: FakeWhm) -> FakeWhm:
    """bob owns x.test and the addon bob-addon.test; carol owns y.test."""
    fake.add_account("bob", "x.test", extra_domains=("bob-addon.test",))
    fake.add_account("carol", "y.test")
    for address in ("a@x.test", "b@x.test", "d@bob-addon.test", "c@y.test"):
        fake.add_mailbox(address)
    return fake


@pytest.fixture
def fake_whm() -> Iterator[FakeWhm]:
    with FakeWhm(token=WHM_TOKEN, hang_s=1.0) as fake:
        yield _seed(fake)


@pytest.fixture(scope="session")
def whm_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def whm_ca_path(whm_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("whm-ca") / "ca.pem"
    whm_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_fake_whm(whm_ca: trustme.CA) -> Iterator[FakeWhm]:
    with FakeWhm(token=WHM_TOKEN, tls=server_tls(whm_ca)) as fake:
        yield _seed(fake)


@pytest.fixture
def make_whm(fake_whm: FakeWhm) -> Iterator[Callable[..., WhmProvider]]:
    """Build providers (closed after the test); defaults aim at ``fake_whm`` with fast retries."""
    made: list[WhmProvider] = []

    def make(fake: FakeWhm | None = None, **overrides: object) -> WhmProvider:
        base = WhmSettings(
            url=(fake or fake_whm).url,
            username="root",
            token=WHM_TOKEN,
            timeout_s=2.0,
            retries=2,
        )
        provider = WhmProvider(dataclasses.replace(base, **overrides), backoff_s=0.001)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def whm(make_whm: Callable[..., WhmProvider]) -> WhmProvider:
    return make_whm()


# --- Exchange Online over REST: the loopback InvokeCommand/$batch endpoint ------------------


@pytest.fixture
def exo_rest_org() -> FakeExchangeOrg:
    """bob follows the org; alice is an explicit exception; carol is disabled; two mailboxes
    answer to shared@contoso.com."""
    org = FakeExchangeOrg(org_disabled=False)
    org.add_mailbox("bob@contoso.com")
    org.add_mailbox("alice@contoso.com", disabled=False)
    org.add_mailbox("carol@contoso.com", disabled=True)
    org.add_mailbox("shared@contoso.com", primary_smtp="shared.team@contoso.com")
    org.add_mailbox("ops@contoso.com", other_identities=("shared@contoso.com",))
    return org


@pytest.fixture
def exo_rest(exo_rest_org: FakeExchangeOrg, whm_ca: trustme.CA) -> Iterator[FakeExchangeRest]:
    with FakeExchangeRest(exo_rest_org, tls=server_tls(whm_ca)) as fake:
        yield fake
    assert fake.violations == []  # every request was the documented JSON, no PowerShell


@pytest.fixture
def make_rest(
    exo_rest: FakeExchangeRest, whm_ca_path: str
) -> Iterator[Callable[..., ExchangeRestProvider]]:
    """Providers aimed at ``exo_rest`` (closed after the test), re-reads 10 ms apart."""
    made: list[ExchangeRestProvider] = []

    def make(**overrides: object) -> ExchangeRestProvider:
        options: dict[str, object] = {
            "tenant_id": exo_rest.tenant_id,
            "organization": "contoso.onmicrosoft.com",
            "exchange_url": exo_rest.url,
            "tokens": FakeExoTokens(exo_rest),
            "verify_tls": whm_ca_path,
            "timeout_s": 5.0,
            "reread_delays_s": (0.01, 0.01, 0.01),
            "backoff_s": 0.01,
        }
        options.update(overrides)
        provider = ExchangeRestProvider(**options)  # type: ignore[arg-type]
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()
