"""Emulators over real HTTP on 127.0.0.1 and organization connections pointing at them, and the
in-process sandbox of `make run`."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from django.core.cache import cache

from integrations import services
from integrations.clients import forget_clients
from integrations.models import Connection
from integrations.sandbox import registry
from integrations.sandbox.base import Emulator, RunningEmulator
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL, WattCarbonEmulator
from integrations.sandbox.wattics import WatticsEmulator


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


# --- the in-process sandbox (what `make run` uses), one fresh set of emulators a test -----------
@pytest.fixture
def sandbox(settings, tmp_path) -> Iterator[ModuleType]:
    settings.DATA_DIR = tmp_path
    registry.reset_all()
    forget_clients()
    cache.clear()
    yield registry
    registry.reset_all()
    forget_clients()


@pytest.fixture
def wattshift(org, sandbox) -> Emulator:
    """The organization connected to the sandbox's WattShift, which is returned."""
    services.save_connection(
        Connection(organization=org, platform="wattshift"), api_key="sandbox-wattshift-key"
    )
    return sandbox.emulator("wattshift")


# --- Wattics over real HTTP ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def wattics_server() -> Iterator[RunningEmulator]:
    with RunningEmulator(WatticsEmulator()) as running:
        yield running


@pytest.fixture
def wattics(wattics_server, settings) -> Iterator[RunningEmulator]:
    settings.WATTICS_RETRY_BASE_S = 0.01
    wattics_server.app.reset()
    forget_clients()
    yield wattics_server
    forget_clients()


# --- WattShift, current profile (the current emulator over real HTTP, and in the sandbox) -------
@pytest.fixture(scope="session")
def wattshift_current_server() -> Iterator[RunningEmulator]:
    from integrations.sandbox.wattshift.current import WattShiftCurrentEmulator

    with RunningEmulator(WattShiftCurrentEmulator()) as running:
        yield running


@pytest.fixture
def wattshift_current_http(wattshift_current_server) -> Iterator[RunningEmulator]:
    """The current WattShift emulator over real HTTP, fresh (its settings back to defaults)."""
    app = wattshift_current_server.app
    app.reset()
    app.key_status.clear()
    app.create_answer = "home"
    app.price_array_names = ("imports", "exports")
    forget_clients()
    yield wattshift_current_server
    forget_clients()


@pytest.fixture
def wattshift_current(org, sandbox) -> Emulator:
    """The organization connected to the sandbox's WattShift with the current profile; returns
    the current emulator (which shares its homes with the quickstart one)."""
    services.save_connection(
        Connection(organization=org, platform="wattshift", profile="current"),
        api_key="sandbox-wattshift-key",
    )
    return sandbox.emulator("wattshift", "current")


# --- WattCarbon's current profile over real HTTP (tests/integrations/test_wattcarbon_current*) ---
@pytest.fixture(scope="session")
def wattcarbon_current_server() -> Iterator[RunningEmulator]:
    from integrations.sandbox.wattcarbon.current import WattCarbonCurrentEmulator

    with RunningEmulator(WattCarbonCurrentEmulator()) as running:
        yield running


@pytest.fixture
def wattcarbon_current(wattcarbon_current_server) -> Iterator[RunningEmulator]:
    wattcarbon_current_server.app.reset()
    forget_clients()
    yield wattcarbon_current_server
    forget_clients()


@pytest.fixture
def wattcarbon_current_connection(org, wattcarbon_current) -> Connection:
    return services.save_connection(
        Connection(
            organization=org,
            platform="wattcarbon",
            base_url=wattcarbon_current.base_url,
            profile="current",
        ),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )


# --- Volue Spark, current profile (the published v1 API), over real HTTP --------------------------
@pytest.fixture(scope="module")
def spark_current_server() -> Iterator[RunningEmulator]:
    from integrations.sandbox.spark.current import SparkCurrentEmulator

    deliveries: list[tuple[str, bytes, dict[str, str]]] = []

    def collect(url: str, body: bytes, headers: dict[str, str]) -> int:
        # Kept for the test to post to the receiver in its own thread (and database connection).
        deliveries.append((url, body, headers))
        return 200

    app = SparkCurrentEmulator(deliver=collect, background=False, retry_delay_s=0)
    app.collected = deliveries  # type: ignore[attr-defined]  # the tests read what was delivered
    with RunningEmulator(app) as running:
        yield running


@pytest.fixture
def spark_current(spark_current_server) -> Iterator[RunningEmulator]:
    """The current Spark emulator, reset, its collected deliveries emptied."""
    spark_current_server.app.reset()
    spark_current_server.app.collected.clear()
    forget_clients()
    yield spark_current_server
    forget_clients()


@pytest.fixture
def spark_current_connection(org, spark_current) -> Connection:
    from integrations.sandbox.spark import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    return services.save_connection(
        Connection(
            organization=org,
            platform="spark",
            profile="current",
            base_url=spark_current.base_url,
            token_url=f"{spark_current.base_url}/connect/token",
        ),
        username=DEFAULT_CLIENT_ID,
        password=DEFAULT_CLIENT_SECRET,
    )
