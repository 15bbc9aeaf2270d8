"""Integer bounds on AllowedNetwork (first and last address, 16-byte big-endian) and the
index that answers "which networks contain this address?" (accesscontrol.models).

Existing rows get their bounds here; from then on AllowedNetwork.save() and the queryset's
bulk_create keep them. The columns are added nullable, filled, then made NOT NULL, so a
table with rows migrates in one go."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from django.db import migrations, models

if TYPE_CHECKING:
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.migrations.state import StateApps

BOUND_BYTES = 16  # as accesscontrol.models (a migration keeps its own copy of the rule)


def fill_bounds(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    network_model = apps.get_model("accesscontrol", "AllowedNetwork")
    rows = list(network_model.objects.only("id", "cidr"))
    for row in rows:
        network = ipaddress.ip_network(row.cidr)
        row.range_start = int(network.network_address).to_bytes(BOUND_BYTES, "big")
        row.range_end = int(network.broadcast_address).to_bytes(BOUND_BYTES, "big")
    network_model.objects.bulk_update(rows, ["range_start", "range_end"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0010_group_commit"),
    ]

    operations = [
        migrations.AddField(
            model_name="allowednetwork",
            name="range_start",
            field=models.BinaryField(editable=False, max_length=16, null=True),
        ),
        migrations.AddField(
            model_name="allowednetwork",
            name="range_end",
            field=models.BinaryField(editable=False, max_length=16, null=True),
        ),
        migrations.RunPython(fill_bounds, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="allowednetwork",
            name="range_start",
            field=models.BinaryField(editable=False, max_length=16),
        ),
        migrations.AlterField(
            model_name="allowednetwork",
            name="range_end",
            field=models.BinaryField(editable=False, max_length=16),
        ),
        migrations.AddIndex(
            model_name="allowednetwork",
            index=models.Index(fields=["ip_version", "range_start"], name="network_range_start"),
        ),
    ]
