"""A change request never delivers a notification: with a failing webhook configured, the
request answers as usual before any delivery attempt, and the scheduled drain delivers
afterwards (retrying the failure). Receiver: tests/notify_receivers.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accesscontrol.models import Notification, NotificationCursor
from accesscontrol.notifications import drain_notifications
from tests.notify_receivers import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def failing_webhook():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def test_a_failing_receiver_neither_fails_nor_delays_the_change_request(
    editor_client, waf, settings, failing_webhook
):
    failing_webhook.reset()
    failing_webhook.statuses[:] = [500]
    settings.GATEHOUSE_NOTIFY_URLS = [failing_webhook.url("/ops")]
    NotificationCursor.objects.create(name="audit", last_id=0)

    response = editor_client.post(
        "/api/networks",
        {"cidr": "81.2.69.0/24", "label": "Berlin office"},
        content_type="application/json",
    )

    assert response.status_code == 201
    # Nothing was attempted, or even queued, by the request.
    assert failing_webhook.attempts == 0 and not Notification.objects.exists()

    now = timezone.now()
    assert drain_notifications(now=now).retrying == 1  # the receiver's 500
    assert drain_notifications(now=now + timedelta(minutes=1)).sent == 1
    [message] = failing_webhook.received
    assert message["path"] == "/ops"
    assert message["message"].startswith("editor added 81.2.69.0/24 (Berlin office)")
    assert "from 81.2.69.142" in message["message"]
