"""accesscontrol.notifications: every event kind's message, delivery through Apprise to real
local receivers (an HTTP webhook and an aiosmtpd SMTP server), retries with backoff, at
most once, digests, the sync-failing threshold and recovery, and nothing at all when
GATEHOUSE_NOTIFY_URLS is unset. Time is passed in (`now=`): no sleeps."""

import io
import threading
from datetime import timedelta
from functools import partialmethod

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from moto.core.exceptions import JsonRESTError
from moto.wafv2.models import WAFV2Backend

from accesscontrol import access_links
from accesscontrol import notifications as notify
from accesscontrol.audit import audit_event
from accesscontrol.models import (
    AllowedNetwork,
    AuditEvent,
    IpSetSyncState,
    Notification,
    NotificationCursor,
)
from accesscontrol.schedule import SyncLoop
from accesscontrol.services import Requester, allow_network, revoke_network, update_network
from accesscontrol.sync import sync_waf_ip_sets
from tests.notify_receivers import SmtpReceiver, WebhookReceiver

from .conftest import HOME_V4, OFFICE_V4

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def webhook_server():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def smtp_server():
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def hook(webhook_server, settings):
    webhook_server.reset()
    settings.GATEHOUSE_NOTIFY_URLS = [webhook_server.url()]
    return webhook_server


def drain(at=None):
    return notify.drain_notifications(now=at or timezone.now())


def bodies(receiver):
    return [m["message"] for m in receiver.received]


def titles(receiver):
    return [m["title"] for m in receiver.received]


def add(requester, gateway, cidr=OFFICE_V4, label="Berlin office", **kwargs):
    return allow_network(requester=requester, cidr=cidr, label=label, gateway=gateway, **kwargs)


# -- off ------------------------------------------------------------------------------------


def test_nothing_is_queued_or_sent_when_no_url_is_configured(
    settings, webhook_server, as_editor, gateway, django_assert_num_queries
):
    settings.GATEHOUSE_NOTIFY_URLS = []
    webhook_server.reset()
    add(as_editor, gateway)

    with django_assert_num_queries(0):
        report = drain()
    call_command("sync_waf", stdout=io.StringIO())

    assert report == notify.DrainReport()
    assert not Notification.objects.exists() and not NotificationCursor.objects.exists()
    assert webhook_server.attempts == 0


# -- each event kind --------------------------------------------------------------------------


def test_network_added_says_who_what_which_label_and_when(hook, as_editor, gateway):
    NotificationCursor.objects.create(name="audit", last_id=0)  # enabled before the change
    until = timezone.now() + timedelta(days=3)
    add(as_editor, gateway, expires_at=until)

    assert drain().sent == 1

    [message] = hook.received
    assert message["path"] == "/hook"
    assert message["title"] == "Gatehouse (gatehouse): network added"
    body = message["message"]
    assert body.startswith("erin added 81.2.69.0/24 (Berlin office), until ")
    assert until.strftime("%Y-%m-%d %H:%M UTC") in body
    assert "from 81.2.69.10" in body and timezone.now().strftime("%Y-%m-%d") in body


def test_network_changed_lists_the_changes(hook, as_editor, gateway):
    network = add(as_editor, gateway).network
    drain()
    hook.reset()

    update_network(
        requester=as_editor,
        network=network,
        changes={"label": "Berlin HQ", "note": "moved"},
        gateway=gateway,
    )
    update_network(  # the same values again: audited, but nothing to tell
        requester=as_editor, network=network, changes={"label": "Berlin HQ"}, gateway=gateway
    )
    drain()

    assert titles(hook) == ["Gatehouse (gatehouse): network changed"]
    assert bodies(hook)[0].startswith(
        "erin changed 81.2.69.0/24 (Berlin HQ): label 'Berlin office' -> 'Berlin HQ'; "
        "note '' -> 'moved'; at "
    )


def test_network_removed(hook, as_editor, gateway):
    add(as_editor, gateway, cidr=HOME_V4, label="keeps the allowlist non-empty")
    network = add(as_editor, gateway).network
    drain()
    hook.reset()

    revoke_network(requester=as_editor, network=network, confirm=True, gateway=gateway)
    drain()

    assert titles(hook) == ["Gatehouse (gatehouse): network removed"]
    assert bodies(hook)[0].startswith("erin removed 81.2.69.0/24 (Berlin office) at ")


def test_adopted_and_quarantined_outside_additions(hook, as_editor, gateway, waf):
    add(as_editor, gateway)
    drain()
    hook.reset()
    # Someone edits the WAF set in the AWS console: one public range, one private one.
    waf.edit(4, {OFFICE_V4, "81.2.80.0/24", "10.0.0.0/8"})

    sync_waf_ip_sets(gateway=gateway)
    drain()

    by_title = dict(zip(titles(hook), bodies(hook), strict=True))
    adopted = by_title["Gatehouse (gatehouse): network adopted from WAF"]
    assert adopted.startswith("The sync adopted 81.2.80.0/24: it was added to WAF outside")
    assert "marked for review" in adopted and "gatehouse-office-v4" in adopted
    quarantined = by_title["Gatehouse (gatehouse): network quarantined"]
    assert quarantined.startswith("The sync refused 10.0.0.0/8, added to WAF outside Gatehouse")
    assert "removed it from WAF" in quarantined
    assert waf.addresses(4) == {OFFICE_V4, "81.2.80.0/24"}


def test_drift_removed_outside_is_reported_with_the_restore(hook, as_editor, gateway, waf):
    add(as_editor, gateway)
    add(as_editor, gateway, cidr=HOME_V4, label="home")
    drain()
    hook.reset()
    waf.edit(4, {HOME_V4})

    sync_waf_ip_sets(gateway=gateway)
    drain()

    assert titles(hook) == ["Gatehouse (gatehouse): drift found"]
    assert bodies(hook)[0].startswith(
        "81.2.69.0/24 removed from gatehouse-office-v4 outside Gatehouse; the sync restored it"
    )


def test_expired_temporary_access(hook, as_editor, gateway):
    add(as_editor, gateway, cidr=HOME_V4, label="permanent")
    network = add(as_editor, gateway, expires_at=timezone.now() + timedelta(hours=1)).network
    drain()
    hook.reset()
    AllowedNetwork.objects.filter(pk=network.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    sync_waf_ip_sets(gateway=gateway)  # removes it from WAF and records the expiry
    drain()

    assert titles(hook) == ["Gatehouse (gatehouse): temporary access expired"]
    assert bodies(hook)[0].startswith("Temporary access for 81.2.69.0/24 (Berlin office) expired")


def test_expiring_within_24_hours_is_sent_once_per_network(hook, as_editor, gateway):
    now = timezone.now()
    add(as_editor, gateway, cidr=HOME_V4, label="home", expires_at=now + timedelta(hours=54))
    add(as_editor, gateway, expires_at=now + timedelta(hours=29))
    add(as_editor, gateway, cidr="81.2.71.0/24", label="no expiry")
    drain(now)
    hook.reset()

    for hours in (6, 6.1, 7, 12):  # later drains within the same day send nothing new
        drain(now + timedelta(hours=hours))
    assert titles(hook) == ["Gatehouse (gatehouse): temporary access expires soon"]
    assert bodies(hook)[0].startswith(
        "Temporary access for 81.2.69.0/24 (Berlin office) expires in about 23 h, at "
    )

    drain(now + timedelta(hours=31))  # the other one is now inside the window
    drain(now + timedelta(hours=32))
    assert len(hook.received) == 2
    assert "81.2.70.1/32 (home) expires in about 23 h" in bodies(hook)[1]


def test_no_expiring_warning_when_the_expiry_was_set_less_than_a_day_ahead(
    hook, as_editor, gateway
):
    now = timezone.now()
    add(as_editor, gateway, expires_at=now + timedelta(hours=5))  # "allow me for 5 hours"

    for minutes in (0, 1, 60):
        drain(now + timedelta(minutes=minutes))

    assert titles(hook) == ["Gatehouse (gatehouse): network added"]  # it says "until ..."


def test_redeemed_access_link_is_one_message_naming_the_link_and_address(
    hook, as_editor, waf, gateway
):
    add(as_editor, gateway)
    drain()
    hook.reset()
    link = access_links.create_access_link(requester=as_editor, label="Visitor Ana", hours=4)
    drain()
    hook.reset()

    access_links.redeem_access_link(token=link.token, ip="81.2.75.9", gateway=gateway)
    drain()

    # Not also "network added": the redemption message says it.
    assert titles(hook) == ["Gatehouse (gatehouse): access link redeemed"]
    body = bodies(hook)[0]
    assert body.startswith("Access link 'Visitor Ana' was redeemed from 81.2.75.9 at ")
    assert "81.2.75.9/32 allowed until" in body and "made by erin" in body


def unavailable(*args, **kwargs):
    raise JsonRESTError("WAFUnavailableEntityException", "WAF is having a bad day")


def test_sync_failing_past_the_threshold_is_sent_once_then_its_recovery(
    hook, as_editor, gateway, waf, monkeypatch, settings
):
    settings.GATEHOUSE_NOTIFY_SYNC_FAILING_MINUTES = 15
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", unavailable)
    add(as_editor, gateway)  # saved; its sync fails
    started = AuditEvent.objects.get(action="sync.fail").created_at
    drain(started)
    hook.reset()

    drain(started + timedelta(minutes=14))
    assert hook.received == []
    drain(started + timedelta(minutes=15))
    drain(started + timedelta(minutes=16))
    assert titles(hook) == ["Gatehouse (gatehouse): WAF sync failing for gatehouse-office-v4"]
    assert bodies(hook)[0].startswith("The WAF sync of gatehouse-office-v4 has been failing since ")
    assert "(15 min): WAF refused update_ip_set on gatehouse-office-v4" in bodies(hook)[0]

    monkeypatch.undo()
    sync_waf_ip_sets(gateway=gateway)
    later = timezone.now() + timedelta(minutes=20)
    drain(later)
    drain(later + timedelta(minutes=1))
    assert titles(hook)[1:] == ["Gatehouse (gatehouse): WAF sync recovered for gatehouse-office-v4"]
    assert bodies(hook)[1].startswith("The WAF sync of gatehouse-office-v4 works again")


def test_old_rows_are_forgotten_without_telling_a_recovery_twice(hook):
    target = notify.target_id(hook.url())
    long_ago = timezone.now() - timedelta(days=40)
    IpSetSyncState.objects.filter(ip_version=4).update(status="in_sync", last_error="")
    for key, kind in (
        ("sync.failing:gatehouse-office-v4:7", "sync.failing"),
        ("sync.recovered:gatehouse-office-v4:7", "sync.recovered"),
        ("sync.failing:gatehouse-office-v6:9", "sync.failing"),  # recovery not told yet
        ("audit:1", "network.added"),
    ):
        Notification.objects.create(
            key=key,
            kind=kind,
            target=target,
            subject=key.split(":")[1],
            title="t",
            body="b",
            state="sent",
            created_at=long_ago,
        )

    drain()
    drain()

    assert sorted(Notification.objects.values_list("key", flat=True)) == [
        "sync.failing:gatehouse-office-v6:9"
    ]
    assert hook.received == []  # the v4 recovery is not told again


def test_a_short_sync_failure_sends_nothing(hook, as_editor, gateway, waf, monkeypatch):
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", unavailable)
    add(as_editor, gateway)
    drain()
    hook.reset()
    monkeypatch.undo()
    sync_waf_ip_sets(gateway=gateway)

    drain(timezone.now() + timedelta(hours=1))

    assert hook.received == []


# -- delivery -------------------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_and_gets_the_message_once(
    hook, as_editor, gateway
):
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway)
    hook.statuses[:] = [500, 503]
    now = timezone.now()

    first = drain(now)
    assert (first.sent, first.retrying, hook.attempts) == (0, 1, 1)
    drain(now + timedelta(seconds=59))  # not due yet: no attempt
    assert hook.attempts == 1
    drain(now + timedelta(minutes=1))  # second attempt fails: next in 2 minutes
    assert hook.attempts == 2
    drain(now + timedelta(minutes=2))
    assert hook.attempts == 2
    third = drain(now + timedelta(minutes=3))
    for minutes in (10, 60):
        drain(now + timedelta(minutes=minutes))

    assert third.sent == 1 and hook.attempts == 3
    assert titles(hook) == ["Gatehouse (gatehouse): network added"]
    row = Notification.objects.get()
    assert (row.state, row.attempts, row.last_error) == ("sent", 3, "")


def test_retries_are_bounded(hook, as_editor, gateway):
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway)
    hook.statuses[:] = [500] * 20
    now = timezone.now()

    for minutes in (0, 1, 3, 7, 15, 31, 63, 127, 600):  # each retry's due time, and later
        drain(now + timedelta(minutes=minutes))

    assert hook.attempts == notify.MAX_ATTEMPTS
    row = Notification.objects.get()
    assert row.state == "failed" and "500" in row.last_error


def test_a_claimed_message_is_never_sent_twice(hook, as_editor, gateway):
    """Two drains at once (SIGUSR1 while another target drains): the second finds the row
    claimed and sends nothing."""
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway)
    inner = []

    def send_while_another_drain_runs(url, title, body):
        inner.append(notify.drain_notifications(send=notify.apprise_send))
        return notify.apprise_send(url, title, body)

    report = notify.drain_notifications(send=send_while_another_drain_runs)

    assert report.sent == 1 and inner[0].sent == 0
    assert len(hook.received) == 1


def test_a_crash_after_claiming_loses_the_message_rather_than_sending_it_twice(
    hook, as_editor, gateway
):
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway)
    now = timezone.now()

    def crash(url, title, body):
        raise KeyboardInterrupt  # the process dies mid-send (BaseException: not caught)

    with pytest.raises(KeyboardInterrupt):
        notify.drain_notifications(now=now, send=crash)
    assert Notification.objects.get().state == "sending"

    drain(now + timedelta(minutes=1))
    assert hook.attempts == 0  # still claimed: not resent
    drain(now + notify.STALE_CLAIM + timedelta(seconds=1))

    assert hook.attempts == 0
    row = Notification.objects.get()
    assert row.state == "failed" and "at most once" in row.last_error


def test_many_events_in_one_drain_go_out_as_one_digest(hook, as_editor, gateway):
    NotificationCursor.objects.create(name="audit", last_id=0)
    for n in range(15):
        add(as_editor, gateway, cidr=f"81.2.{100 + n}.0/24", label=f"branch {n}")

    report = drain()

    assert report.sent == 15 and hook.attempts == 1
    [digest] = hook.received
    assert digest["title"] == "Gatehouse (gatehouse): 15 notifications"
    lines = digest["message"].splitlines()
    assert len(lines) == 15
    assert lines[0].startswith("- network added: erin added 81.2.100.0/24 (branch 0)")


def test_a_digest_lists_the_first_50_and_counts_the_rest(hook):
    NotificationCursor.objects.create(name="audit", last_id=0)
    AuditEvent.objects.bulk_create(
        audit_event(
            requester=Requester(name="cli:importer@host"),
            action="network.allow",
            subject=f"81.3.{n}.0/24",
            after={"cidr": f"81.3.{n}.0/24", "label": f"branch {n}"},
        )
        for n in range(120)
    )

    report = drain()

    assert report.sent == 120 and hook.attempts == 1
    lines = bodies(hook)[0].splitlines()
    assert len(lines) == 51
    assert lines[49].startswith("- network added: cli:importer@host added 81.3.49.0/24 (branch 49)")
    assert lines[50] == "... and 70 more (70 network added): see the audit log."


def test_a_failure_holds_back_the_later_messages_and_order_is_kept(hook, as_editor, gateway):
    NotificationCursor.objects.create(name="audit", last_id=0)
    for n in range(3):
        add(as_editor, gateway, cidr=f"81.2.{100 + n}.0/24", label=f"branch {n}")
    hook.statuses[:] = [500]
    now = timezone.now()

    first = drain(now)
    assert (first.sent, first.retrying, hook.attempts) == (0, 1, 1)  # not three attempts

    assert drain(now + timedelta(minutes=1)).sent == 3
    assert [b.split(" (")[0] for b in bodies(hook)] == [
        "erin added 81.2.100.0/24",
        "erin added 81.2.101.0/24",
        "erin added 81.2.102.0/24",
    ]


def test_a_late_committed_audit_event_below_the_cursor_is_still_sent(hook, as_editor, gateway):
    add(as_editor, gateway)
    event = AuditEvent.objects.get(action="network.allow")
    # Another drain already moved the cursor past this id while its transaction was open.
    NotificationCursor.objects.create(name="audit", last_id=event.pk + 5)

    drain()
    drain()

    assert titles(hook) == ["Gatehouse (gatehouse): network added"]


def test_audit_events_over_a_day_old_are_skipped_not_sent(hook, as_editor, gateway):
    """Notifications were off for a while, or no scheduled sync ran: old news stays in the
    audit log."""
    add(as_editor, gateway)
    NotificationCursor.objects.create(name="audit", last_id=0)
    old = AuditEvent.objects.get(action="network.allow")
    # Made two days ago (a queryset update: the model itself refuses to change an event).
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))

    drain()

    assert hook.attempts == 0
    assert NotificationCursor.objects.get().last_id >= old.pk
    add(as_editor, gateway, cidr=HOME_V4, label="home")  # news again
    drain()
    assert [b.split(" (")[0] for b in bodies(hook)] == ["erin added 81.2.70.1/32"]


def test_email_through_a_local_smtp_server(settings, smtp_server, as_editor, gateway):
    settings.GATEHOUSE_NOTIFY_URLS = [smtp_server.url(to="ops@example.com")]
    NotificationCursor.objects.create(name="audit", last_id=0)
    smtp_server.messages.clear()
    add(as_editor, gateway)

    assert drain().sent == 1

    [mail] = smtp_server.messages
    assert mail["Subject"] == "Gatehouse (gatehouse): network added"
    assert mail["From"] == "gatehouse@example.com" and mail["X-Envelope-To"] == "ops@example.com"
    assert SmtpReceiver.text(mail).startswith("erin added 81.2.69.0/24 (Berlin office)")


def test_each_target_gets_each_message_once_even_when_another_fails(
    settings, hook, smtp_server, as_editor, gateway
):
    settings.GATEHOUSE_NOTIFY_URLS = [hook.url(), smtp_server.url()]
    NotificationCursor.objects.create(name="audit", last_id=0)
    smtp_server.messages.clear()
    add(as_editor, gateway)
    hook.statuses[:] = [500]
    now = timezone.now()

    drain(now)
    drain(now + timedelta(minutes=5))

    assert len(smtp_server.messages) == 1  # not resent when the webhook was retried
    assert hook.attempts == 2 and len(hook.received) == 1


def test_an_invalid_url_is_skipped_and_the_others_still_deliver(settings, hook, as_editor, gateway):
    settings.GATEHOUSE_NOTIFY_URLS = ["nonsense://", hook.url()]
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway)

    assert drain().sent == 1
    assert len(hook.received) == 1


# -- the scheduled sync delivers ------------------------------------------------------------


def test_the_one_shot_sync_waf_delivers(hook, as_editor, gateway, waf):
    NotificationCursor.objects.create(name="audit", last_id=0)
    AllowedNetwork.objects.create(cidr=OFFICE_V4, ip_version=4, label="Office")
    waf.edit(4, {"81.2.80.0/24"})  # adopted by this sync
    out = io.StringIO()

    call_command("sync_waf", stdout=out)

    assert titles(hook) == ["Gatehouse (gatehouse): network adopted from WAF"]
    assert "Notifications: 1 sent, 0 to retry, 0 given up." in out.getvalue()


def test_a_failing_sync_still_delivers_and_still_fails(hook, as_editor, gateway, waf, monkeypatch):
    from django.core.management.base import CommandError

    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway, cidr=HOME_V4, label="home")
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", unavailable)
    AllowedNetwork.objects.create(cidr=OFFICE_V4, ip_version=4, label="Office")

    with pytest.raises(CommandError):
        call_command("sync_waf", stdout=io.StringIO())

    assert titles(hook) == ["Gatehouse (gatehouse): network added"]


def test_the_sync_waf_loop_delivers_each_interval(hook, as_editor, gateway, waf, monkeypatch):
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway)
    monkeypatch.setattr(SyncLoop, "install_signal_handlers", lambda self: None)
    monkeypatch.setattr(SyncLoop, "run", partialmethod(SyncLoop.run, max_intervals=1))

    call_command("sync_waf", "--every", "60", stdout=io.StringIO())

    assert titles(hook) == ["Gatehouse (gatehouse): network added"]


def test_a_dry_run_sends_nothing(hook, as_editor, gateway):
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(as_editor, gateway)

    call_command("sync_waf", "--dry-run", stdout=io.StringIO())

    assert hook.attempts == 0 and not Notification.objects.exists()


def test_requester_is_named_for_cli_changes(hook, gateway):
    NotificationCursor.objects.create(name="audit", last_id=0)
    add(Requester(name="cli:alice@host"), gateway)
    drain()
    assert bodies(hook)[0].startswith("cli:alice@host added 81.2.69.0/24 (Berlin office)")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises every writer on one database lock, so "
    "drains in threads queue behind each other instead of racing",
)
def test_concurrent_drains_on_postgresql_send_each_message_once(hook):
    NotificationCursor.objects.create(name="audit", last_id=0)
    AuditEvent.objects.bulk_create(
        audit_event(
            requester=Requester(name="cli:ops@host"),
            action="network.allow",
            subject=f"81.3.{n}.0/24",
            after={"cidr": f"81.3.{n}.0/24", "label": f"branch {n}"},
        )
        for n in range(8)
    )
    barrier = threading.Barrier(4)
    reports = []

    def drain_in_thread() -> None:
        try:
            barrier.wait()
            reports.append(notify.drain_notifications())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain_in_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in reports) == 8
    assert sorted(bodies(hook)) == sorted(set(bodies(hook))) and len(hook.received) == 8
    assert Notification.objects.filter(state="sent").count() == 8


def test_send_test_notification_reports_each_destination(settings, hook, smtp_server):
    from django.core.management.base import CommandError

    smtp_server.messages.clear()
    hook.statuses[:] = [500]
    settings.GATEHOUSE_NOTIFY_URLS = [hook.url("/first"), smtp_server.url()]
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 of 2 destination"):
        call_command("send_test_notification", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("GATEHOUSE_NOTIFY_URLS entry 1: NOT delivered: ")
    assert "500" in lines[0] and "127.0.0.1" not in lines[0]
    assert lines[1] == "GATEHOUSE_NOTIFY_URLS entry 2: delivered"
    assert smtp_server.messages[0]["Subject"] == "Gatehouse (gatehouse): test message"

    call_command("send_test_notification", stdout=out)  # the webhook answers 200 now
    assert hook.received[0]["title"] == "Gatehouse (gatehouse): test message"
    assert not Notification.objects.exists()  # not through the outbox


def test_send_test_notification_says_when_notifications_are_off(settings):
    from django.core.management.base import CommandError

    settings.GATEHOUSE_NOTIFY_URLS = []
    with pytest.raises(CommandError, match="GATEHOUSE_NOTIFY_URLS is empty"):
        call_command("send_test_notification")
