"""Fill the day summaries (``ReadingDay``) from the readings already stored.

Not atomic: each batch of series is its own transaction, its series rows locked as a store locks
one, so on a live table a store of one of them waits for its batch and then keeps its days
current itself. A rerun (after a failure) recomputes every batch again: each deletes first.
The SQL is kept here rather than imported (``readings.summaries.rebuild`` does the same today).
"""

from django.db import migrations, transaction

BATCH = 100


def fill(apps, schema_editor):
    db = schema_editor.connection
    Series = apps.get_model("readings", "Series")
    using = db.alias
    day = "(instant AT TIME ZONE 'UTC')::date" if db.vendor == "postgresql" else "date(instant)"
    ids = list(Series.objects.using(using).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        marks = ", ".join(["%s"] * len(batch))
        with transaction.atomic(using=using):
            list(
                Series.objects.using(using)
                .select_for_update()
                .filter(pk__in=batch)
                .values_list("pk", flat=True)
            )
            with db.cursor() as cursor:
                cursor.execute(f"DELETE FROM readings_readingday WHERE series_id IN ({marks})", batch)
                cursor.execute(
                    "INSERT INTO readings_readingday"
                    " (series_id, organization_id, day, kwh, reading_count)"
                    f" SELECT r.series_id, s.organization_id, {day}, SUM(r.value_kwh), COUNT(*)"
                    " FROM devices_reading r JOIN devices_series s ON s.id = r.series_id"
                    f" WHERE r.series_id IN ({marks}) GROUP BY r.series_id, s.organization_id, {day}",
                    batch,
                )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("readings", "0006_reading_day"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
