"""The readings table partitioned by year on PostgreSQL (readings.partitions), moved while live.

Not atomic: the rows move in short transactions while the table stays readable and writable
(``partition_live_table``). Django's state is unchanged (the table keeps its name, columns and
key), and SQLite keeps its plain table. Reversed, the table is made plain again in one blocking
transaction (development only).
"""

from django.db import migrations

from readings import partitions


def partition(apps, schema_editor):
    partitions.partition_live_table(schema_editor.connection.alias)


def unpartition(apps, schema_editor):
    partitions.unpartition(schema_editor.connection.alias)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("readings", "0007_fill_reading_days"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
