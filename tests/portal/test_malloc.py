"""portal.malloc: the allocator hands large freed blocks back (a worker's peak is its own)."""

from __future__ import annotations

import sys

import pytest

from portal.malloc import keep_large_blocks_mapped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_threshold_is_set_where_glibc_is():
    assert keep_large_blocks_mapped() is True


def test_elsewhere_it_changes_nothing(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_large_blocks_mapped() is False
