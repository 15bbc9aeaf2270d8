"""The scheduled sync's claim row (accesscontrol.schedule): one row, created here so a
claim is a single conditional UPDATE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import migrations, models

if TYPE_CHECKING:
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.migrations.state import StateApps


def create_row(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    claim = apps.get_model("accesscontrol", "ScheduledSyncClaim")
    claim.objects.get_or_create(name="sync_waf")


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0006_access_links"),
    ]

    operations = [
        migrations.CreateModel(
            name="ScheduledSyncClaim",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=32, unique=True)),
                ("holder", models.CharField(blank=True, max_length=200)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
