"""Series, Reading and Upload now belong to the readings app (readings 0001): state only, their
tables stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0003_upload_expired_discarded'),
        ('readings', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name='reading', name='series'),
                migrations.RemoveConstraint(model_name='series', name='series_has_one_owner'),
                migrations.RemoveIndex(model_name='upload', name='devices_upl_organiz_ae4a37_idx'),
                migrations.RemoveIndex(model_name='upload', name='devices_upl_status_84f201_idx'),
                migrations.DeleteModel(name='Reading'),
                migrations.DeleteModel(name='Upload'),
                migrations.DeleteModel(name='Series'),
            ],
        ),
    ]
