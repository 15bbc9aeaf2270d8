"""AuditEvent.request_id: the id of the HTTP request that made the event (X-Request-Id),
so an audit entry leads to that request's log lines. Existing events get ""."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0013_second_factor"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="request_id",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
