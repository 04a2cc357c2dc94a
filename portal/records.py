"""The write path every tenant-owned record shares: validate, save, announce; or check, announce, delete.

The apps' services (`homes.services`, `devices.services`) name their operations (`save_home`,
`delete_device`) and call these, so that every write sends `record_changed` inside its transaction
and every delete asks the registered blockers first.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError
from django.db.models.fields.mixins import FieldCacheMixin

from .signals import delete_blockers, record_changed


def _attached_relations(instance: models.Model) -> set[str]:
    """Foreign keys set to a saved object: checking that its row exists would re-read a row the
    caller just read or wrote (one query per key per record, which adds up in an import)."""
    names = set()
    for field in instance._meta.concrete_fields:
        if field.many_to_one and isinstance(field, FieldCacheMixin) and field.is_cached(instance):
            related = field.get_cached_value(instance)
            if related is not None and related.pk is not None and not related._state.adding:
                names.add(field.name)
    return names


def save_record[M: models.Model](instance: M, *, changed: set[str] | None = None) -> M:
    """Validate and save `instance`, then announce it (in the same transaction)."""
    created = instance._state.adding
    instance.clean_fields(exclude=_attached_relations(instance))
    instance.clean()
    instance.validate_unique()
    instance.validate_constraints()
    # No savepoint per record: the caller's transaction (or this one) is the unit.
    with transaction.atomic(savepoint=False):
        instance.save()
        record_changed.send(
            sender=type(instance),
            instance=instance,
            created=created,
            deleted=False,
            fields=changed or set(),
        )
    return instance


def delete_record(instance: models.Model) -> None:
    """Delete `instance` unless something depends on it; the reasons come back as ValidationError."""
    reasons = delete_blockers(instance)
    if reasons:
        raise ValidationError(reasons)
    try:
        with transaction.atomic():
            record_changed.send(
                sender=type(instance), instance=instance, created=False, deleted=True, fields=set()
            )
            instance.delete()
    except ProtectedError as exc:
        raise ValidationError(protected_message(exc)) from exc


def protected_message(exc: ProtectedError) -> str:
    """'It still has 3 homes and 1 meter' from Django's ProtectedError."""
    counts: dict[str, int] = {}
    for obj in exc.protected_objects:
        meta = obj._meta
        counts[str(meta.verbose_name_plural)] = counts.get(str(meta.verbose_name_plural), 0) + 1
    parts = [f"{n} {name if n > 1 else name.rstrip('s')}" for name, n in counts.items()]
    return f"It still has {' and '.join(parts)}: delete or move them first."
