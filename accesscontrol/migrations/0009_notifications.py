"""The notification outbox and its audit cursor (accesscontrol.notifications)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0008_single_sign_on_identity"),
    ]

    operations = [
        migrations.CreateModel(
            name="NotificationCursor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=32, unique=True)),
                ("last_id", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=200)),
                ("target", models.CharField(max_length=16)),
                ("kind", models.CharField(db_index=True, max_length=32)),
                ("subject", models.CharField(max_length=255)),
                ("event_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                ("title", models.CharField(max_length=255)),
                ("body", models.TextField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("failed", "Failed (gave up)"),
                        ],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("claimed_by", models.CharField(blank=True, max_length=64)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["state", "next_attempt_at"], name="notification_due")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("key", "target"), name="notification_once_per_target"
                    )
                ],
            },
        ),
    ]
