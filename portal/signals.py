"""Signals and hooks through which the apps announce changes without importing each other.

Imports point one way (portal <- homes <- devices <- integrations): a service in `homes` or
`devices` sends `record_changed` inside its transaction, and `integrations` marks the affected
upstream links pending in that same transaction (a transactional outbox).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models
from django.dispatch import Signal

# sender=model class, instance=the record, created=bool, deleted=bool, fields=set of changed names.
record_changed = Signal()

# Callables that return the reasons (strings) a record may not be deleted now, e.g. because an
# upstream platform holds a copy that depends on it. Registered by apps in AppConfig.ready().
DeleteBlocker = Callable[[models.Model], list[str]]
DELETE_BLOCKERS: list[DeleteBlocker] = []


def register_delete_blocker(blocker: DeleteBlocker) -> None:
    if blocker not in DELETE_BLOCKERS:
        DELETE_BLOCKERS.append(blocker)


def delete_blockers(instance: models.Model) -> list[str]:
    reasons: list[str] = []
    for blocker in DELETE_BLOCKERS:
        reasons.extend(blocker(instance))
    return reasons


# Interval data of a series changed: sender=Series class, series=the Series, start/end = the UTC
# range that changed (inclusive). Sent inside the transaction that stored the readings.
readings_changed = Signal()
