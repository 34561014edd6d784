"""WHM fixtures: a loopback FakeWhm (HTTP or HTTPS) and providers aimed at it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
import trustme

from providers.whm import WhmProvider, WhmSettings
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
