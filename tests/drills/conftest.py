"""The fault drills' fixtures; what they are made of is in harness.py beside this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.clients import forget_clients
from integrations.sandbox.base import Emulator, RunningEmulator
from portal.celery import app

from .harness import (
    DRILL_SETTINGS,
    RedisServer,
    Upstreams,
    Worker,
    reset_producer_pools,
)
from .harness_current import emulators


def _serve(profile: str) -> Iterator[Upstreams]:
    apps: list[Emulator] = emulators(profile)
    with (
        RunningEmulator(apps[0]) as wattcarbon,
        RunningEmulator(apps[1]) as spark,
        RunningEmulator(apps[2]) as wattshift,
        RunningEmulator(apps[3]) as wattics,
    ):
        yield Upstreams(wattcarbon, spark, wattshift, wattics)


@pytest.fixture(scope="module")
def quickstart_servers() -> Iterator[Upstreams]:
    yield from _serve("quickstart")


@pytest.fixture(scope="module")
def current_servers() -> Iterator[Upstreams]:
    yield from _serve("current")


@pytest.fixture
def profile() -> str:
    """The contract profile of the drill's connections (a drill parametrizes it)."""
    return "quickstart"


@pytest.fixture
def upstreams(request, profile: str) -> Iterator[Upstreams]:
    """The four emulators of `profile`, served over HTTP for the module, fresh for each drill."""
    upstream_servers: Upstreams = request.getfixturevalue(f"{profile}_servers")
    for running in upstream_servers.all():
        running.app.reset()
    forget_clients()
    yield upstream_servers
    for running in upstream_servers.all():
        running.app.release_all()  # a drill that failed mid-way must not leave a call hanging
        running.app.reset()
    forget_clients()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def drill_settings(settings, tmp_path: Path):
    for name, value in DRILL_SETTINGS.items():
        setattr(settings, name, value)
    settings.DATA_DIR = tmp_path
    return settings


@pytest.fixture
def broker_app(broker: RedisServer, monkeypatch) -> Iterator[Any]:
    """This process's Celery app sends to the drill's broker (the services' on_commit, the sweep)."""
    previous = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = broker.url
    # Celery reads the CELERY_BROKER_URL environment variable before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", broker.url)
    reset_producer_pools()
    yield app
    app.conf.update(previous)
    reset_producer_pools()


@pytest.fixture
def worker(transactional_db, broker: RedisServer, broker_app, tmp_path: Path) -> Iterator[Worker]:
    """A running worker; stopped before the test database is flushed (it holds connections)."""
    running = Worker(broker, tmp_path)
    running.start()
    yield running
    running.stop()
