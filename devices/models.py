"""Models of devices."""

from __future__ import annotations
