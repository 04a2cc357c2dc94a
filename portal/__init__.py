"""Gridfolio's project package: settings, URLs, Celery app, organizations and sign-in."""

from __future__ import annotations

from .malloc import keep_large_blocks_mapped

keep_large_blocks_mapped()  # before any big array: see portal/malloc.py

from .celery import app as celery_app  # noqa: E402 (after the allocator's setting)

__all__ = ("celery_app",)
