"""Adapters: which local records go to which platform, and how (`base.py`: the base, the registry).

A package per platform whose current published API differs from its quickstart contract
(`spark/`, `wattcarbon/`, `wattshift/`), each holding `quickstart.py` and `current.py` (one adapter
set per contract profile, `Adapter.profiles`); one module for Wattics (`wattics.py`), whose current
API is its quickstart contract, serving both. `apps.py` imports them, which registers their
adapters. Nothing here imports the platform modules: the engine imports `adapters.base` only.
"""
