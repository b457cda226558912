import django.core.validators
from django.db import migrations, models

import pixdash.accounts.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    # Teams that exist at upgrade keep everything (NULL); only teams created afterwards
    # start with PIXDASH_RETENTION_DAYS. An upgrade must never start deleting images.
    operations = [
        migrations.AddField(
            model_name="team",
            name="image_retention_days",
            field=models.PositiveSmallIntegerField(
                blank=True,
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
            ),
        ),
        migrations.AlterField(
            model_name="team",
            name="image_retention_days",
            field=models.PositiveSmallIntegerField(
                blank=True,
                default=pixdash.accounts.models.default_retention_days,
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
            ),
        ),
    ]
