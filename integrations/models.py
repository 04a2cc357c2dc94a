"""Models of integrations."""

from __future__ import annotations
