"""Celery tasks are enqueued by name, so the code that queues a task never imports the module that
defines it (which imports that code back): no import cycle between an app's work and its tasks.

Each app's `ready()` imports its tasks module, so the names are registered in every process: the
signature then applies the task itself, which honours CELERY_TASK_ALWAYS_EAGER (tests, `make run`),
where `send_task` would always go to the broker.
"""

from __future__ import annotations

from celery import current_app


def enqueue(task_name: str, *args: object) -> None:
    """Send the task `task_name` with `args` (run here and now when tasks run eagerly). Raises
    kombu's OperationalError when the broker cannot take it."""
    current_app.signature(task_name, args=args).delay()
