"""Eager mode (`make run`, no broker): a thread in the web process plays the beat sweep, so retries
and waiting children still happen over time without a worker."""

from __future__ import annotations

import logging
import os
import sys
import threading

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)
_started = threading.Event()


def _loop(interval_s: float) -> None:
    from . import engine

    while True:
        threading.Event().wait(interval_s)
        try:
            close_old_connections()
            for link_id in engine.due_link_ids():
                engine.run_link(link_id)
        except Exception:
            logger.exception("eager sweep failed")
        finally:
            close_old_connections()


def start_if_eager() -> None:
    """Start the sweeper in the serving process of `runserver` when tasks run eagerly."""
    serving = (
        len(sys.argv) > 1 and sys.argv[1] == "runserver" and os.environ.get("RUN_MAIN") == "true"
    )
    if not (settings.CELERY_TASK_ALWAYS_EAGER and serving) or _started.is_set():
        return
    _started.set()
    thread = threading.Thread(
        target=_loop, args=(settings.EAGER_SWEEP_INTERVAL_S,), name="eager-sweep", daemon=True
    )
    thread.start()
