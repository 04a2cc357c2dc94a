import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("homes", "0005_utility_per_organization"),
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="utility",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="portal.organization",
            ),
        ),
        migrations.AlterField(
            model_name="ziputilities",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="portal.organization",
            ),
        ),
        migrations.AddConstraint(
            model_name="utility",
            constraint=models.UniqueConstraint(
                fields=("organization", "ws_utility_id"), name="unique_utility_per_org"
            ),
        ),
        migrations.AddConstraint(
            model_name="ziputilities",
            constraint=models.UniqueConstraint(
                fields=("organization", "zip_code"), name="unique_zip_utilities_per_org"
            ),
        ),
    ]
