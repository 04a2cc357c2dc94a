"""WattShift's adapters: `quickstart.py` (the seed contract: create only) and `current.py` (the
published API: solar with the home, an update call), registered by importing them
(docs/upstreams/wattshift.md)."""

from . import current, quickstart
from .current import WattShiftCurrentHome
from .quickstart import WattShiftHome

__all__ = ["WattShiftCurrentHome", "WattShiftHome", "current", "quickstart"]
