"""The in-process emulators of sandbox mode (`make run`): one per platform, state kept on disk.

In sandbox mode a connection with no base URL of its own talks to these through an httpx WSGI
transport, so the demo works offline with no server to start. `manage.py sandbox --port` serves
the same emulators over real HTTP.

Profiles: a platform whose current API differs from its quickstart contract has a second emulator
(`sandbox/<platform>/current.py`) at its own host (`CURRENT_SANDBOX_HOSTS`); a connection speaking
the `current` profile talks to that one. Wattics, unchanged but for its host, has one emulator.

Every organization in sandbox mode shares these emulators (and their built-in accounts): each
connection's transport names its organization as the emulator's tenant, so an outage an admin
sets, or an event a Spark admin asks for, concerns that organization alone.
"""

from __future__ import annotations

import importlib
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
# The emulators of the platforms' current published APIs (the `current` profile).
CURRENT_SANDBOX_HOSTS = {
    "wattcarbon": "http://wattcarbon-current.sandbox",
    "spark": "http://spark-current.sandbox",
    "wattshift": "http://wattshift-current.sandbox",
}
QUICKSTART = "quickstart"
# Platforms whose two emulators are one platform behind two versions of its API (the same records,
# e.g. a WattShift home created through one is updated through the other): one state file.
_SHARED_STATE = {"wattshift"}
_CURRENT_EMULATORS = {
    "wattcarbon": "WattCarbonCurrentEmulator",
    "spark": "SparkCurrentEmulator",
    "wattshift": "WattShiftCurrentEmulator",
}
_lock = threading.Lock()
_emulators: dict[tuple[str, str], Emulator] = {}


def emulated_profile(platform: str, profile: str) -> str:
    """The emulator a connection of `profile` talks to: its own, or the quickstart one where the
    platform's current API is its quickstart contract (Wattics)."""
    return profile if platform in _CURRENT_EMULATORS else QUICKSTART


def sandbox_host(platform: str, profile: str = QUICKSTART) -> str:
    """The in-process host of `platform`'s emulator for a connection of `profile`."""
    if emulated_profile(platform, profile) == QUICKSTART:
        return SANDBOX_HOSTS[platform]
    return CURRENT_SANDBOX_HOSTS[platform]


def all_sandbox_hosts() -> list[str]:
    return [*SANDBOX_HOSTS.values(), *CURRENT_SANDBOX_HOSTS.values()]


def _state_path(platform: str, profile: str) -> Path:
    folder = Path(settings.DATA_DIR) / "sandbox"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "" if profile == QUICKSTART or platform in _SHARED_STATE else f"-{profile}"
    return folder / f"{platform}{suffix}.json"


def build(platform: str, state_path: Path | None, profile: str = QUICKSTART) -> Emulator:
    """A new emulator of `platform` (imported lazily: sandbox code is not loaded in production);
    `profile` "current": the emulator of its current published API (`sandbox/<platform>/current.py`)."""
    if emulated_profile(platform, profile) != QUICKSTART:
        module = importlib.import_module(f"{__package__}.{platform}.current")
        emulator_class: type[Emulator] = getattr(module, _CURRENT_EMULATORS[platform])
        return emulator_class(state_path=state_path)
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
def emulator(platform: str, profile: str = QUICKSTART) -> Emulator: ...
def emulator(platform: str, profile: str = QUICKSTART) -> Emulator:
    """The process's emulator of `platform` for connections of `profile`, created on first use."""
    key = (platform, emulated_profile(platform, profile))
    with _lock:
        if key not in _emulators:
            _emulators[key] = build(platform, _state_path(*key), key[1])
        return _emulators[key]


def tenant_of(organization_id: int) -> str:
    """The emulators' name for an organization (what its transport sends, what faults key on)."""
    return f"org-{organization_id}"


def transport(platform: str, tenant: str = "", profile: str = QUICKSTART) -> httpx.WSGITransport:
    """The in-process transport to `platform`'s emulator (of `profile`), its calls made as `tenant`."""
    return SandboxTransport(app=emulator(platform, profile), tenant=tenant)


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
