"""Volue Spark's adapters: `quickstart.py` (the seed contract) and `current.py` (the published v1
API), registered by importing them (docs/upstreams/spark.md)."""

from . import current, quickstart

__all__ = ["current", "quickstart"]
