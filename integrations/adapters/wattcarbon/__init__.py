"""WattCarbon's adapters: `quickstart.py` (devices and their timeseries, the seed contract) and
`current.py` (meters plus assets, the published developer guide), registered by importing them
(docs/upstreams/wattcarbon.md)."""

from . import current, quickstart
from .quickstart import WattCarbonDevice, month_keys

__all__ = ["WattCarbonDevice", "current", "month_keys", "quickstart"]
