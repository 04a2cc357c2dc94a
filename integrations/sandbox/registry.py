"""The in-process emulators of sandbox mode (`make run`): one per platform, state kept on disk.

In sandbox mode a connection with no base URL of its own talks to these through an httpx WSGI
transport, so the demo works offline with no server to start. `manage.py sandbox --port` serves
the same emulators over real HTTP.

Every organization in sandbox mode shares these emulators (and their built-in accounts): each
connection's transport names its organization as the emulator's tenant, so an outage an admin
sets, or an event a Spark admin asks for, concerns that organization alone.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import httpx
from django.conf import settings

from .base import Emulator, SandboxTransport

if TYPE_CHECKING:
    from .spark import SparkEmulator
    from .wattcarbon import WattCarbonEmulator
    from .wattics import WatticsEmulator
    from .wattshift import WattShiftEmulator

SANDBOX_HOSTS = {
    "wattcarbon": "http://wattcarbon.sandbox",
    "spark": "http://spark.sandbox",
    "wattshift": "http://wattshift.sandbox",
    "wattics": "http://wattics.sandbox",
}
_lock = threading.Lock()
_emulators: dict[str, Emulator] = {}


def _state_path(platform: str) -> Path:
    folder = Path(settings.DATA_DIR) / "sandbox"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{platform}.json"


def build(platform: str, state_path: Path | None) -> Emulator:
    """A new emulator of `platform` (imported lazily: sandbox code is not loaded in production)."""
    if platform == "wattcarbon":
        from .wattcarbon import WattCarbonEmulator

        return WattCarbonEmulator(state_path=state_path)
    if platform == "spark":
        from .spark import SparkEmulator

        return SparkEmulator(state_path=state_path)
    if platform == "wattshift":
        from .wattshift import WattShiftEmulator

        return WattShiftEmulator(state_path=state_path)
    if platform == "wattics":
        from .wattics import WatticsEmulator

        return WatticsEmulator(state_path=state_path)
    raise ValueError(f"unknown platform {platform!r}")


@overload
def emulator(platform: Literal["spark"]) -> SparkEmulator: ...
@overload
def emulator(platform: Literal["wattcarbon"]) -> WattCarbonEmulator: ...
@overload
def emulator(platform: Literal["wattics"]) -> WatticsEmulator: ...
@overload
def emulator(platform: Literal["wattshift"]) -> WattShiftEmulator: ...
@overload
def emulator(platform: str) -> Emulator: ...
def emulator(platform: str) -> Emulator:
    """The process's emulator of `platform`, created on first use."""
    with _lock:
        if platform not in _emulators:
            _emulators[platform] = build(platform, _state_path(platform))
        return _emulators[platform]


def tenant_of(organization_id: int) -> str:
    """The emulators' name for an organization (what its transport sends, what faults key on)."""
    return f"org-{organization_id}"


def transport(platform: str, tenant: str = "") -> httpx.WSGITransport:
    """The in-process transport to `platform`'s emulator, its calls made as `tenant`."""
    return SandboxTransport(app=emulator(platform), tenant=tenant)


def reset_all() -> None:
    """Forget the emulators of this process (tests)."""
    with _lock:
        _emulators.clear()


# The emulators' built-in accounts (see each emulator), used by the demo organization's connections.
SANDBOX_CREDENTIALS = {
    "wattcarbon": {"username": "sandbox@gridfolio.test", "password": "sandbox-wattcarbon-key"},
    "spark": {"username": "sandbox-spark-client", "password": "sandbox-spark-secret"},
    "wattshift": {"api_key": "sandbox-wattshift-key"},
    "wattics": {"username": "sandbox-wattics", "password": "sandbox-wattics-password"},
}
