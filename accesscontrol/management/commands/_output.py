"""Shared printing for the allowlist commands (not a command itself: leading underscore)."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from accesscontrol.models import IpSetSyncState
from accesscontrol.sync import SyncReport


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(
            f"{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        )
    return " ".join(exc.messages)


def describe_sync(report: SyncReport, *, verbosity: int) -> list[str]:
    lines: list[str] = []
    for result in report.sets:
        verb = "would add" if report.dry_run else "added"
        parts = [
            f"{result.name}: {result.status}",
            f"{verb} {len(result.to_add)}",
            f"{'would remove' if report.dry_run else 'removed'} {len(result.to_remove)}",
            f"{'would adopt' if report.dry_run else 'adopted'} {len(result.adopted)}",
        ]
        refused = result.refused
        if refused:
            parts.append(
                f"{'would refuse' if report.dry_run else 'refused and removed'} {len(refused)}"
            )
        if not report.dry_run:
            parts.append("wrote" if result.wrote else "no write needed")
        line = ", ".join(parts)
        if result.error:
            line += f" ({result.error})"
        lines.append(line)
        if verbosity >= 2:
            lines += [f"  + {a}" for a in result.to_add]
            lines += [f"  - {a}" for a in result.to_remove]
            lines += [f"  adopted {a}" for a in result.adopted]
            lines += [f"  refused {a}: {why}" for a, why in refused.items()]
    return lines


def fail_unless_in_sync(report: SyncReport) -> None:
    if report.dry_run:
        failed = [s for s in report.sets if s.error]
    else:
        failed = [s for s in report.sets if s.status != IpSetSyncState.Status.IN_SYNC]
    if failed:
        raise CommandError(
            "WAF sync did not complete: " + " ".join(f"{s.name}: {s.error}" for s in failed)
        )
