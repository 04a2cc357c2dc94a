# Utilities and the zip cache become organization-owned (issue 15, point 3), in three steps so
# that PostgreSQL never alters a table with row changes pending in the same transaction:
# 0004 adds the columns (nullable) and drops the global unique keys, 0005 gives every utility
# in use to each organization using it, 0006 makes the owner required and unique per owner.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("homes", "0003_meter_wattics_format"),
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="utility",
            name="organization",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="portal.organization",
            ),
        ),
        migrations.AddField(
            model_name="utility",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="utility",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AlterField(
            model_name="utility",
            name="ws_utility_id",
            field=models.CharField(max_length=100, verbose_name="WattShift utility id"),
        ),
        migrations.AddField(
            model_name="ziputilities",
            name="organization",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="portal.organization",
            ),
        ),
        migrations.AddField(
            model_name="ziputilities",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ziputilities",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AlterField(
            model_name="ziputilities",
            name="zip_code",
            field=models.CharField(max_length=5),
        ),
    ]
