"""Notifications: tell people what changed, through Apprise (Slack, Teams, email, webhooks).

`GATEHOUSE_NOTIFY_URLS` lists Apprise URLs; empty, nothing here runs and nothing is stored.
No change request sends or even queues a message: the scheduled `sync_waf` calls
`drain_notifications` after its sync, which

1. queues messages (`Notification` rows, one per event and target) for
   - new audit events after a stored cursor: network added, changed, removed, adopted,
     quarantined (an outside addition refused and removed from WAF), expired; access link
     redeemed; drift (an address removed from WAF outside Gatehouse, restored). Audit
     events are inserted in the change's own transaction, so a message exists only for a
     change that committed; events committed late (a transaction that was open while the
     cursor moved past its id) are caught by rescanning the last `LATE_COMMIT_WINDOW`;
     events older than `MAX_EVENT_AGE` when first seen are skipped (old news);
   - temporary access expiring within 24 hours (once per network and expiry; not when the
     expiry was already that close at the network's last change, whose message said it);
   - a sync failing for longer than `GATEHOUSE_NOTIFY_SYNC_FAILING_MINUTES`, then its
     recovery (once per failure);
2. sends what is due, per target and in order (more than `DIGEST_OVER` at once go out as
   one digest): each row is claimed (a committed conditional UPDATE) before it is sent
   and marked sent after; a failed send stops that target's sending for this drain and
   is retried by later drains with exponential backoff, `MAX_ATTEMPTS` times in all.
   At most once: a process that dies between claiming and marking loses those messages
   (they are marked failed later, never resent). Several drains at once (several
   targets' schedules, SIGUSR1) are safe: each sends only the rows its claim token won.

Invariant: (key, target) is unique, so an event is queued once per target, and only rows
moved from `pending` to `sending` by this drain's token are sent.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Max
from django.utils import timezone

from accesscontrol.models import (
    AllowedNetwork,
    AuditEvent,
    IpSetSyncState,
    Notification,
    NotificationCursor,
)

log = logging.getLogger(__name__)

State = Notification.State

CURSOR_NAME = "audit"
# Audit events this old are rescanned for ones committed after the cursor passed their id
# (a sync holds its transaction open across WAF calls and retries).
LATE_COMMIT_WINDOW = timedelta(minutes=10)
MAX_EVENT_AGE = timedelta(days=1)
# Audit events turned into messages per drain (a 10,000-line import takes a few drains).
HARVEST_BATCH = 2000
EXPIRY_WARNING = timedelta(hours=24)
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)
# A claimed row not marked sent or failed by then belonged to a drain that died.
STALE_CLAIM = timedelta(minutes=10)
# More due messages than this for one target in one drain go out as one digest.
DIGEST_OVER = 10
DIGEST_LIMIT = 500
DIGEST_LINES = 50
KEEP_FINISHED = timedelta(days=30)

NOTIFIED_ACTIONS = (
    "network.allow",
    "network.update",
    "network.revoke",
    "network.adopt",
    "network.adopt_refused",
    "network.expire",
    "access.redeem",
    "sync.apply",
)


class Kind:
    ADDED = "network.added"
    CHANGED = "network.changed"
    REMOVED = "network.removed"
    ADOPTED = "network.adopted"
    QUARANTINED = "network.quarantined"
    EXPIRING = "network.expiring"
    EXPIRED = "network.expired"
    REDEEMED = "access.redeemed"
    DRIFT = "sync.drift"
    SYNC_FAILING = "sync.failing"
    SYNC_RECOVERED = "sync.recovered"


@dataclass(frozen=True, kw_only=True)
class Message:
    key: str
    kind: str
    subject: str
    title: str
    body: str
    event_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DrainReport:
    queued: int = 0
    sent: int = 0
    retrying: int = 0
    gave_up: int = 0


Sender = Callable[[str, str, str], tuple[bool, str]]


def enabled() -> bool:
    return bool(settings.GATEHOUSE_NOTIFY_URLS)


def target_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _parse_when(value: str | None) -> str:
    if not value:
        return "no expiry"
    try:
        return _when(datetime.fromisoformat(value))
    except ValueError:
        return value


def _title(what: str) -> str:
    return f"Gatehouse ({settings.GATEHOUSE_EDGE_NAME}): {what}"[:255]


def _network(snapshot: dict[str, Any] | None, fallback: str) -> str:
    snapshot = snapshot or {}
    cidr = snapshot.get("cidr") or fallback
    label = snapshot.get("label")
    return f"{cidr} ({label})" if label else cidr


def _from(event: AuditEvent) -> str:
    return f" from {event.request_ip}" if event.request_ip else ""


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    for key, name in (("label", "label"), ("note", "note")):
        if before.get(key) != after.get(key):
            parts.append(f"{name} {before.get(key)!r} -> {after.get(key)!r}")
    if before.get("expires_at") != after.get("expires_at"):
        parts.append(
            f"expiry {_parse_when(before.get('expires_at'))} -> "
            f"{_parse_when(after.get('expires_at'))}"
        )
    if before.get("needs_review") and not after.get("needs_review"):
        parts.append("marked reviewed")
    elif not before.get("needs_review") and after.get("needs_review"):
        parts.append("marked for review")
    return parts


def message_for_event(event: AuditEvent) -> Message | None:
    """The message an audit event makes, or None when it is not notified."""
    who, at = event.actor_name, _when(event.created_at)
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    action = event.action
    if action in ("network.allow", "network.update") and who.startswith("access-link:"):
        return None  # the access.redeem message says it (and who)
    if action == "network.allow":
        kind, title = Kind.ADDED, "network added"
        expiry = after.get("expires_at")
        until = f", until {_parse_when(expiry)}" if expiry else ""
        body = f"{who} added {_network(after, event.subject)}{until}, at {at}{_from(event)}."
    elif action == "network.update":
        kind, title = Kind.CHANGED, "network changed"
        changes = "; ".join(_changes(before, after))
        if not changes:
            return None  # saved with the same values: nothing to tell
        body = f"{who} changed {_network(after, event.subject)}: {changes}; at {at}{_from(event)}."
    elif action == "network.revoke":
        kind, title = Kind.REMOVED, "network removed"
        body = f"{who} removed {_network(before, event.subject)} at {at}{_from(event)}."
    elif action == "network.adopt":
        kind, title = Kind.ADOPTED, "network adopted from WAF"
        body = (
            f"The sync adopted {event.subject}: it was added to WAF outside Gatehouse "
            f"({event.reason}). It stays allowed and is marked for review; check whose it "
            f"is. At {at}."
        )
    elif action == "network.adopt_refused":
        kind, title = Kind.QUARANTINED, "network quarantined"
        body = (
            f"The sync refused {event.subject}, added to WAF outside Gatehouse, and removed "
            f"it from WAF. {event.reason} At {at}."
        )
    elif action == "network.expire":
        kind, title = Kind.EXPIRED, "temporary access expired"
        body = (
            f"Temporary access for {_network(before, event.subject)} expired at "
            f"{_parse_when(before.get('expires_at'))}; removed from WAF at {at}."
        )
    elif action == "access.redeem":
        kind, title = Kind.REDEEMED, "access link redeemed"
        body = (
            f"Access link {after.get('label')!r} was redeemed{_from(event)} at {at}: "
            f"{event.subject} allowed until {_parse_when(after.get('allowed_until'))}. "
            f"{event.reason}."
        )
    elif action == "sync.apply":
        removed = after.get("removed_outside") or []
        if not removed:
            return None
        kind, title = Kind.DRIFT, "drift found"
        body = (
            f"{', '.join(removed)} removed from {event.subject} outside Gatehouse; the sync "
            f"restored {'it' if len(removed) == 1 else 'them'} at {at}."
        )
    else:
        return None
    return Message(
        key=f"audit:{event.pk}",
        kind=kind,
        subject=event.subject,
        title=_title(title),
        body=body,
        event_id=event.pk,
    )


# -- queueing ---------------------------------------------------------------------------------


def _queue(messages: Iterable[Message], targets: list[str], now: datetime) -> int:
    rows = [
        Notification(
            key=m.key,
            target=target,
            kind=m.kind,
            subject=m.subject[:255],
            event_id=m.event_id,
            title=m.title,
            body=m.body,
            created_at=now,
            next_attempt_at=now,
        )
        for m in messages
        for target in targets
    ]
    if not rows:
        return 0
    # Another drain may queue the same event at the same moment: the unique (key, target)
    # keeps one (the count is then an upper bound).
    Notification.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


def _harvest_audit(targets: list[str], now: datetime) -> int:
    cursor, created = NotificationCursor.objects.get_or_create(
        name=CURSOR_NAME,
        defaults={"last_id": AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0},
    )
    if created:
        log.info("Notifications on: from audit event %d (and the last few minutes)", cursor.last_id)
    notified = AuditEvent.objects.filter(action__in=NOTIFIED_ACTIONS)
    # Old news is not sent (notifications were off, or no scheduled sync ran, for a day):
    # the cursor skips it; the audit log has it.
    skipped = notified.filter(id__gt=cursor.last_id, created_at__lt=now - MAX_EVENT_AGE)
    if skip_to := skipped.aggregate(m=Max("id"))["m"]:
        log.warning("Notifications: audit events up to %d are over a day old: not sent", skip_to)
        NotificationCursor.objects.filter(name=CURSOR_NAME, last_id__lt=skip_to).update(
            last_id=skip_to
        )
        cursor.last_id = max(cursor.last_id, skip_to)
    new = list(notified.filter(id__gt=cursor.last_id).order_by("id")[:HARVEST_BATCH])
    late = list(
        notified.filter(id__lte=cursor.last_id, created_at__gte=now - LATE_COMMIT_WINDOW)
        .exclude(
            id__in=Notification.objects.filter(
                event_id__isnull=False, created_at__gte=now - 2 * LATE_COMMIT_WINDOW
            ).values("event_id")
        )
        .order_by("id")[:HARVEST_BATCH]
    )
    messages = [m for m in map(message_for_event, late + new) if m is not None]
    queued = _queue(messages, targets, now)
    if new:
        # Only forward: a concurrent drain may have moved it further already.
        NotificationCursor.objects.filter(name=CURSOR_NAME, last_id__lt=new[-1].pk).update(
            last_id=new[-1].pk
        )
    return queued


def _existing_keys(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(
            Notification.objects.filter(key__in=keys[start : start + 500]).values_list(
                "key", flat=True
            )
        )
    return found


def _harvest_expiring(targets: list[str], now: datetime) -> int:
    # Not for networks whose expiry was already this close when they were last changed (a
    # 4-hour access link, "allow me for 2 hours"): the added/changed/redeemed message said
    # when they end.
    soon = list(
        AllowedNetwork.objects.filter(
            expires_at__gt=now,
            expires_at__lte=now + EXPIRY_WARNING,
            updated_at__lt=F("expires_at") - EXPIRY_WARNING,
        )
    )
    keys = {f"expiring:{n.pk}:{n.expires_at.isoformat()}": n for n in soon if n.expires_at}
    if not keys:
        return 0
    seen = _existing_keys(list(keys))
    messages = []
    for key, network in keys.items():
        if key in seen:
            continue
        assert network.expires_at is not None
        hours = max(1, round((network.expires_at - now).total_seconds() / 3600))
        messages.append(
            Message(
                key=key,
                kind=Kind.EXPIRING,
                subject=network.cidr,
                title=_title("temporary access expires soon"),
                body=(
                    f"Temporary access for {network.cidr} ({network.label}) expires in about "
                    f"{hours} h, at {_when(network.expires_at)}. An editor can extend it in "
                    "the console if it is still needed."
                ),
            )
        )
    return _queue(messages, targets, now)


def _harvest_sync_health(targets: list[str], now: datetime) -> int:
    threshold = timedelta(minutes=settings.GATEHOUSE_NOTIFY_SYNC_FAILING_MINUTES)
    messages: list[Message] = []
    for state in IpSetSyncState.objects.all():
        if state.status != IpSetSyncState.Status.IN_SYNC and state.last_error:
            # The failure began with the first sync.fail after the last success.
            fails = AuditEvent.objects.filter(action="sync.fail", subject=state.name)
            if state.last_synced_at:
                fails = fails.filter(created_at__gt=state.last_synced_at)
            first = fails.order_by("created_at", "id").first()
            if first is None or now - first.created_at < threshold:
                continue
            minutes = int((now - first.created_at).total_seconds() // 60)
            messages.append(
                Message(
                    key=f"sync.failing:{state.name}:{first.pk}",
                    kind=Kind.SYNC_FAILING,
                    subject=state.name,
                    title=_title(f"WAF sync failing for {state.name}"),
                    body=(
                        f"The WAF sync of {state.name} has been failing since "
                        f"{_when(first.created_at)} ({minutes} min): {state.last_error} "
                        "Changes are saved and reach WAF when the sync recovers."
                    ),
                )
            )
        elif state.status == IpSetSyncState.Status.IN_SYNC:
            failing = Notification.objects.filter(kind=Kind.SYNC_FAILING, subject=state.name)
            recovered = set(
                Notification.objects.filter(
                    kind=Kind.SYNC_RECOVERED, subject=state.name
                ).values_list("key", flat=True)
            )
            for key in set(failing.values_list("key", flat=True)):
                recovery = key.replace("sync.failing:", "sync.recovered:", 1)
                if recovery in recovered:
                    continue
                messages.append(
                    Message(
                        key=recovery,
                        kind=Kind.SYNC_RECOVERED,
                        subject=state.name,
                        title=_title(f"WAF sync recovered for {state.name}"),
                        body=(
                            f"The WAF sync of {state.name} works again: in sync at "
                            f"{_when(state.last_synced_at)}."
                        ),
                    )
                )
    seen = _existing_keys([m.key for m in messages])
    return _queue([m for m in messages if m.key not in seen], targets, now)


# -- sending ----------------------------------------------------------------------------------


def valid_urls(urls: Iterable[str]) -> list[str]:
    """The URLs Apprise understands; each other one is logged (without its text: it may
    hold a password) and skipped, so no message is queued for it."""
    import apprise  # only when notifications are on (the import costs ~0.2 s)

    valid = []
    for position, url in enumerate(urls, start=1):
        if apprise.Apprise().add(url):
            valid.append(url)
        else:
            log.error(
                "GATEHOUSE_NOTIFY_URLS entry %d is not a valid Apprise URL: skipped", position
            )
    return valid


def apprise_send(url: str, title: str, body: str) -> tuple[bool, str]:
    """Send one message to one Apprise URL: (delivered, why not)."""
    import apprise  # only when notifications are on (the import costs ~0.2 s)

    sender = apprise.Apprise()
    if not sender.add(url):
        return False, "not a valid Apprise URL"
    # Apprise reports why a send failed only in its log: keep the last line for the row.
    capture = apprise.LogCapture(  # type: ignore[no-untyped-call]
        level=logging.WARNING, fmt="%(message)s"
    )
    with capture as captured:
        delivered = bool(sender.notify(title=title, body=body, body_format="text"))
        problems = [line for line in captured.getvalue().splitlines() if line.strip()]
    return delivered, (problems[-1] if problems else "not delivered")[:500]


def send_test_messages(*, send: Sender | None = None) -> list[tuple[int, bool, str]]:
    """Send one test message to each configured URL now, outside the outbox (an operator
    checking the configuration): (position in GATEHOUSE_NOTIFY_URLS, delivered, why not)."""
    send = send or apprise_send
    title = _title("test message")
    body = (
        f"A test message from Gatehouse ({settings.GATEHOUSE_EDGE_NAME}) at "
        f"{_when(timezone.now())}: notifications reach this destination."
    )
    return [
        (position, *_safe_send(send, url, title, body))
        for position, url in enumerate(settings.GATEHOUSE_NOTIFY_URLS, start=1)
    ]


def _digest(rows: list[Notification]) -> tuple[str, str]:
    """One message for many (an import of hundreds of networks): the first
    `DIGEST_LINES` in full, then how many more of each kind."""
    title = _title(f"{len(rows)} notifications")
    lines = [f"- {r.title.split(': ', 1)[-1]}: {r.body}" for r in rows[:DIGEST_LINES]]
    rest = Counter(r.title.split(": ", 1)[-1] for r in rows[DIGEST_LINES:])
    if rest:
        more = ", ".join(f"{count} {what}" for what, count in sorted(rest.items()))
        lines.append(f"... and {sum(rest.values())} more ({more}): see the audit log.")
    return title, "\n".join(lines)


def _finish(rows: list[Notification], *, delivered: bool, error: str, now: datetime) -> DrainReport:
    ids = [r.pk for r in rows]
    if delivered:
        Notification.objects.filter(pk__in=ids).update(state=State.SENT, sent_at=now, last_error="")
        return DrainReport(sent=len(ids))
    # attempts was counted at the claim; retry later unless that was the last.
    retry = [r for r in rows if r.attempts < MAX_ATTEMPTS]
    done = [r.pk for r in rows if r.attempts >= MAX_ATTEMPTS]
    for row in retry:
        Notification.objects.filter(pk=row.pk).update(
            state=State.PENDING,
            claimed_by="",
            last_error=error,
            next_attempt_at=now + FIRST_RETRY * 2 ** (row.attempts - 1),
        )
    if done:
        Notification.objects.filter(pk__in=done).update(state=State.FAILED, last_error=error)
        log.error(
            "Gave up on %d notification(s) after %d attempts: %s", len(done), MAX_ATTEMPTS, error
        )
    else:
        log.warning("Notification not delivered (retrying later): %s", error)
    return DrainReport(retrying=len(retry), gave_up=len(done))


def _claim(ids: list[int], now: datetime) -> list[Notification]:
    """Move `ids` from pending to sending under a new token; the rows this drain won.

    The UPDATE commits before anything is sent (autocommit): this is the at-most-once
    point. A concurrent drain's UPDATE finds these rows no longer pending."""
    token = uuid.uuid4().hex
    Notification.objects.filter(pk__in=ids, state=State.PENDING).update(
        state=State.SENDING, claimed_by=token, claimed_at=now, attempts=F("attempts") + 1
    )
    return list(Notification.objects.filter(claimed_by=token, state=State.SENDING).order_by("id"))


def _send_due(target: str, url: str, now: datetime, send: Sender) -> DrainReport:
    """Send the target's pending messages in order, up to the first one not due yet (a
    retry waiting for its backoff holds the later ones back: order is kept, and a broken
    receiver is tried once per drain, not once per message)."""
    pending = Notification.objects.filter(target=target, state=State.PENDING).order_by("id")
    due: list[int] = []
    for pk, next_attempt_at in pending.values_list("id", "next_attempt_at")[:DIGEST_LIMIT]:
        if next_attempt_at > now:
            break
        due.append(pk)
    if len(due) > DIGEST_OVER:
        rows = _claim(due, now)
        if not rows:
            return DrainReport()
        title, body = _digest(rows)
        delivered, error = _safe_send(send, url, title, body)
        return _finish(rows, delivered=delivered, error=error, now=now)
    reports: list[DrainReport] = []
    for pk in due:
        claimed = _claim([pk], now)
        if not claimed:
            continue  # another drain has it
        [row] = claimed
        delivered, error = _safe_send(send, url, row.title, row.body)
        reports.append(_finish([row], delivered=delivered, error=error, now=now))
        if not delivered:
            break  # this receiver is tried again next drain
    return DrainReport(
        sent=sum(r.sent for r in reports),
        retrying=sum(r.retrying for r in reports),
        gave_up=sum(r.gave_up for r in reports),
    )


def _safe_send(send: Sender, url: str, title: str, body: str) -> tuple[bool, str]:
    try:
        return send(url, title, body)
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the drain
        log.exception("Notification send raised")
        return False, f"{type(exc).__name__}: {exc}"[:500]


def _housekeeping(targets: set[str], now: datetime) -> int:
    """Give up on rows nobody can send (claimed by a drain that died, or for a URL no
    longer configured); forget finished rows after `KEEP_FINISHED` (a failure's row stays
    until its recovery is queued, else the recovery would be told again)."""
    stale = Notification.objects.filter(state=State.SENDING, claimed_at__lt=now - STALE_CLAIM)
    lost = stale.update(
        state=State.FAILED,
        last_error="Claimed for sending and never confirmed (the sender stopped); not resent, "
        "so it is sent at most once.",
    )
    if lost:
        log.warning("%d notification(s) were claimed by a drain that stopped: not resent", lost)
    orphaned = Notification.objects.filter(state=State.PENDING).exclude(target__in=targets)
    gone = orphaned.update(state=State.FAILED, last_error="Target no longer configured.")
    finished = Notification.objects.filter(
        state__in=(State.SENT, State.FAILED), created_at__lt=now - KEEP_FINISHED
    )
    # A failure's row is what says its recovery is still to be told: it goes once the
    # recovery is queued (always before the newer recovery row itself is forgotten).
    recoveries = Notification.objects.filter(kind=Kind.SYNC_RECOVERED).values_list("key", flat=True)
    told = [key.replace("sync.recovered:", "sync.failing:", 1) for key in recoveries]
    finished.filter(kind=Kind.SYNC_FAILING, key__in=told).delete()
    finished.exclude(kind=Kind.SYNC_FAILING).delete()
    return lost + gone


def drain_notifications(*, now: datetime | None = None, send: Sender | None = None) -> DrainReport:
    """Queue what happened since the last drain and send what is due (see the module
    docstring). Does nothing, not even a query, when no URL is configured."""
    if not enabled():
        return DrainReport()
    now = now or timezone.now()
    send = send or apprise_send
    urls = {target_id(url): url for url in valid_urls(settings.GATEHOUSE_NOTIFY_URLS)}
    if not urls:
        return DrainReport()
    targets = sorted(urls)
    queued = (
        _harvest_audit(targets, now)
        + _harvest_expiring(targets, now)
        + _harvest_sync_health(targets, now)
    )
    gave_up = _housekeeping(set(targets), now)
    reports = [_send_due(target, url, now, send) for target, url in urls.items()]
    return DrainReport(
        queued=queued,
        sent=sum(r.sent for r in reports),
        retrying=sum(r.retrying for r in reports),
        gave_up=gave_up + sum(r.gave_up for r in reports),
    )
