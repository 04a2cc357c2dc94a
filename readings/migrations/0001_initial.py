"""Series, Reading and Upload move here from devices: in Django's state only.

Their tables keep their names (``devices_series``, ``devices_reading``, ``devices_upload``, set as
``db_table``), so nothing is created or copied. ``devices`` 0004 removes them from its own state
after this has added them here; the content types (and so the permissions) follow the models.
"""

from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


MOVED = ("series", "reading", "upload")


def move_content_types(
    apps: StateApps,
    schema_editor: BaseDatabaseSchemaEditor,
    source: str = "devices",
    target: str = "readings",
) -> None:
    """Relabel the models' content types, unless the target's were created already."""
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if content_type.objects.using(db).filter(app_label=target, model=model).exists():
            continue
        content_type.objects.using(db).filter(app_label=source, model=model).update(
            app_label=target
        )


def move_content_types_back(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    move_content_types(apps, schema_editor, source="readings", target="devices")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('devices', '0003_upload_expired_discarded'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('homes', '0006_utility_organization_required'),
        ('portal', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Series',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('quantity', models.CharField(choices=[('generation', 'Generation / savings'), ('consumption', 'Consumption')], max_length=20)),
                        ('first_instant', models.DateTimeField(blank=True, null=True)),
                        ('last_instant', models.DateTimeField(blank=True, null=True)),
                        ('reading_count', models.PositiveIntegerField(default=0)),
                        ('device', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='series', to='devices.device')),
                        ('meter', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='series', to='homes.meter')),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.organization')),
                    ],
                    options={
                        'verbose_name_plural': 'series',
                        'db_table': 'devices_series',
                    },
                ),
                migrations.CreateModel(
                    name='Reading',
                    fields=[
                        ('pk', models.CompositePrimaryKey('series_id', 'instant', blank=True, editable=False, primary_key=True, serialize=False)),
                        ('instant', models.DateTimeField(help_text='Start of the hour, UTC.')),
                        ('value_kwh', models.FloatField()),
                        ('series', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='readings', to='readings.series')),
                    ],
                    options={
                        'db_table': 'devices_reading',
                        'ordering': ['series', 'instant'],
                    },
                ),
                migrations.CreateModel(
                    name='Upload',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('filename', models.CharField(max_length=255)),
                        ('sha256', models.CharField(max_length=64)),
                        ('size_bytes', models.PositiveBigIntegerField(default=0)),
                        ('rows', models.PositiveIntegerField(default=0)),
                        ('inserted', models.PositiveIntegerField(default=0)),
                        ('updated', models.PositiveIntegerField(default=0)),
                        ('unchanged', models.PositiveIntegerField(default=0)),
                        ('first_instant', models.DateTimeField(blank=True, null=True)),
                        ('last_instant', models.DateTimeField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('preview', 'Checked, waiting for confirmation'), ('processing', 'Processing'), ('stored', 'Stored'), ('rejected', 'Rejected'), ('failed', 'Failed'), ('expired', 'Expired (never confirmed)'), ('discarded', 'Discarded')], default='preview', max_length=12)),
                        ('report', models.JSONField(blank=True, default=dict)),
                        ('progress', models.PositiveSmallIntegerField(default=0, help_text='Percent, while processing.')),
                        ('stored_file', models.CharField(blank=True, help_text='Where the file waits for confirmation.', max_length=300)),
                        ('stored_at', models.DateTimeField(blank=True, null=True)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.organization')),
                        ('series', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='uploads', to='readings.series')),
                        ('uploaded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'devices_upload',
                        'ordering': ['-created_at', '-pk'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='series',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('device__isnull', False), ('meter__isnull', True)), models.Q(('device__isnull', True), ('meter__isnull', False)), _connector='OR'), name='series_has_one_owner'),
                ),
                migrations.AddIndex(
                    model_name='upload',
                    index=models.Index(fields=['organization', '-created_at'], name='devices_upl_organiz_ae4a37_idx'),
                ),
                migrations.AddIndex(
                    model_name='upload',
                    index=models.Index(fields=['status', 'updated_at'], name='devices_upl_status_84f201_idx'),
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
