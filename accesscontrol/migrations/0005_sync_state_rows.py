"""The two IpSetSyncState rows (one per IP version), so reads never create them: the
allowlist lock and every sync lock these rows. Named after the configured edge; a sync
under another edge name renames the row and forgets what it applied to the old set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import migrations

if TYPE_CHECKING:
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.migrations.state import StateApps

from accesscontrol.edge import IP_VERSIONS, ip_set_name


def create_rows(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    state = apps.get_model("accesscontrol", "IpSetSyncState")
    for version in IP_VERSIONS:
        state.objects.get_or_create(
            ip_version=version,
            defaults={"name": ip_set_name(settings.GATEHOUSE_EDGE_NAME, version)},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0004_allowednetwork_needs_review"),
    ]

    operations = [
        # Reversing keeps the rows: they hold what was applied to WAF.
        migrations.RunPython(create_rows, migrations.RunPython.noop),
    ]
