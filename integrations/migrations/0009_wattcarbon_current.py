# WattCarbon's current profile: a device's meter and its demand-response events document are
# links of their own (channels "meter" and "document").

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0008_connection_profile"),
    ]

    operations = [
        migrations.AlterField(
            model_name="upstreamlink",
            name="channel",
            field=models.CharField(
                choices=[
                    ("record", "Record"),
                    ("timeseries", "Timeseries"),
                    ("packets", "Meter packets"),
                    ("meter", "Meter"),
                    ("document", "Document"),
                ],
                default="record",
                max_length=20,
            ),
        ),
    ]
