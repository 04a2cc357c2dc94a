"""Models of homes."""

from __future__ import annotations
