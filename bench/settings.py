"""Benchmark settings: the test settings (secrets, sandbox), on DATABASE_URL (PostgreSQL)."""

from tests.settings import *  # noqa: F403
