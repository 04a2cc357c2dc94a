"""Hand freed memory back to the system: a fixed mmap threshold for glibc's malloc.

glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
blocks of that size come from the heap, where a freed one stays in the process and the next
file's columns land beside it. A worker that checks a 100 MB upload and then stores it kept the
first parse's peak and added the second's fragments (bench/memory: 213 MB after the check,
264 MB after the confirmation, the same file); with the threshold fixed at 128 KiB every large
array has its own mapping, returned when freed (217 MB after both). Each process sets it as it
imports ``portal`` (the web server, the Celery worker, ``manage.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt's parameter number for the threshold (malloc.h); setting it also turns off the
# dynamic adjustment.
_M_MMAP_THRESHOLD = -3

THRESHOLD_BYTES = 128 * 1024


def keep_large_blocks_mapped(threshold: int = THRESHOLD_BYTES) -> bool:
    """Set the threshold; False where there is no glibc (macOS, musl) and nothing changed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:  # a libc without it (musl)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
