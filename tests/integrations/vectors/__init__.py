"""Example bodies the platforms publish (their docs and quickstarts: docs/upstreams/), one file each
under tests/integrations/vectors/<platform>/, read by the client and the emulator tests alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent


def vector_path(platform: str, name: str) -> Path:
    path = VECTORS / platform / name
    if not path.is_file():
        raise FileNotFoundError(f"no vector {platform}/{name} in {VECTORS}")
    return path


def vector_bytes(platform: str, name: str) -> bytes:
    """A vector exactly as stored, byte for byte (a signed body must not be re-serialised)."""
    return vector_path(platform, name).read_bytes()


def vector_json(platform: str, name: str) -> Any:
    """A JSON vector, parsed afresh on every call: a test may change its copy."""
    return json.loads(vector_bytes(platform, name))
