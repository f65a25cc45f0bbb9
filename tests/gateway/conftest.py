"""Gateway fixtures: a real migrated DuckDB store in the test's data dir, and a clock the test can move."""
from __future__ import annotations

import pytest

from backend.gateway.service import Gateway
from tests.gateway.helpers import MovableClock


@pytest.fixture
def clock():
    return MovableClock()


@pytest.fixture
def make_gateway(store, settings, clock):
    """A Gateway over the test's store, with settings overridden per test (e.g. rate_limit_per_minute=3); closed
    before the store is (its usage writer would otherwise flush into a closed file)."""
    made: list[Gateway] = []

    def make(**overrides) -> Gateway:
        made.append(Gateway(store, settings.model_copy(update=overrides), clock=clock))
        return made[-1]

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(make_gateway):
    gw = make_gateway()
    gw.create_tenant("acme")
    gw.create_tenant("globex")
    return gw
