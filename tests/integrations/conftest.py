"""Emulators over real HTTP on 127.0.0.1 and organization connections pointing at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations import services
from integrations.clients import forget_clients
from integrations.models import Connection
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL, WattCarbonEmulator


@pytest.fixture(scope="session")
def wattcarbon_server() -> Iterator[RunningEmulator]:
    with RunningEmulator(WattCarbonEmulator()) as running:
        yield running


@pytest.fixture
def wattcarbon(wattcarbon_server) -> Iterator[RunningEmulator]:
    wattcarbon_server.app.reset()
    forget_clients()
    yield wattcarbon_server
    forget_clients()


@pytest.fixture
def wattcarbon_connection(org, wattcarbon) -> Connection:
    return services.save_connection(
        Connection(organization=org, platform="wattcarbon", base_url=wattcarbon.base_url),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )
