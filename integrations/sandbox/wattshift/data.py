"""The WattShift emulator's data: the sandbox API key, the contract's vocabulary, the state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.sandbox.base import Emulator

DEFAULT_API_KEY = "sandbox-wattshift-key"
INTERVAL = timedelta(minutes=15)
DEFAULT_WINDOW = timedelta(hours=24)
# Not documented upstream; a bound keeps one answer small (7 days = 672 values).
MAX_WINDOW = timedelta(days=7)
DEFAULT_RETRY_AFTER_S = 1
AC_TYPES = ("central", "window", "split", "other")
HOME_FLAGS = (
    "hasEvCharger",
    "hasElectricHeater",
    "hasSmartWaterHeater",
    "hasElectricWaterHeater",
    "hasAC",
)


def iso_z(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and `Z`, as WattShift writes instants."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WattShiftState(Emulator):
    """The emulator's state and API keys (mixed into WattShiftEmulator)."""

    api_keys: set[str]  # set by WattShiftEmulator.__init__

    def add_api_key(self, key: str) -> None:
        with self.lock:
            self.api_keys.add(key)

    def initial_state(self) -> dict[str, Any]:
        return {"homes": {}, "solar": {}, "session_tokens": []}

    def expire_tokens(self) -> None:
        self.state["session_tokens"] = []
