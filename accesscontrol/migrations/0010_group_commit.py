"""Group commit of WAF writes (accesscontrol.sync): per-set desired and applied
generations, and the lease of the request that runs the set's sync rounds."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0009_notifications"),
    ]

    operations = [
        migrations.AddField(
            model_name="ipsetsyncstate",
            name="applied_generation",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="ipsetsyncstate",
            name="desired_generation",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="ipsetsyncstate",
            name="syncer",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="ipsetsyncstate",
            name="syncer_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
