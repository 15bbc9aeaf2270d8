"""Indexes for keyset (seek) paging of the allowlist (issue 18, part 4): one per sort the
console offers, in the ordering's own directions, so a `next`/`previous` cursor page seeks
to its key and reads a page of one index, forwards or backwards (accesscontrol.network_page).
Newest/oldest first already have network_newest_first (0003)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0014_auditevent_request_id"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="allowednetwork",
            index=models.Index(fields=["label", "-created_at", "-id"], name="network_label_seek"),
        ),
        migrations.AddIndex(
            model_name="allowednetwork",
            index=models.Index(
                fields=["-label", "-created_at", "-id"], name="network_label_desc_seek"
            ),
        ),
        migrations.AddIndex(
            model_name="allowednetwork",
            index=models.Index(fields=["expires_at", "-id"], name="network_expiry_seek"),
        ),
        migrations.AddIndex(
            model_name="allowednetwork",
            index=models.Index(fields=["-expires_at", "-id"], name="network_expiry_desc_seek"),
        ),
    ]
