"""Bulk import and export of the allowlist (the API, the console and the commands share it).

Import takes text: CSV with a header naming some of `cidr,label,note,expires_at` (`cidr`
required; the header is line 1), or one CIDR per line (blank lines and `#` comments are
skipped), where the label is given once for the whole paste. Every line is checked with
the same rules as a single add (`accesscontrol.validation`, the duplicate and 10,000-per-set
guards of `services`) and reported with its line number.

Invariants: nothing is saved unless every line is valid, or the caller asked for the valid
ones only (`valid_only`); what is saved is saved in one transaction, under the allowlist
lock, with one audit event per network; then ONE sync covers the whole import (one WAF
write per IP set it changed). Additions never break the empty-allowlist invariants, and
the self-lockout guard does not apply to them.

Export writes the same CSV columns (so an export imports again, unchanged) or JSON. Cells a
spreadsheet would run as a formula get a leading apostrophe, which import removes again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accesscontrol.audit import Requester, audit_event, network_snapshot
from accesscontrol.models import AllowedNetwork, AuditEvent
from accesscontrol.sync import (
    ChangeSyncStatus,
    SyncOutcome,
    lock_sync_states,
    mark_desired,
    sync_after_change,
)
from accesscontrol.validation import (
    MAX_ACTIVE_PER_VERSION,
    check_network_policy,
    clean_expires_at,
    clean_label,
    clean_note,
    parse_network,
)
from accesscontrol.waf import WafIpSetGateway

CSV_COLUMNS = ("cidr", "label", "note", "expires_at")
# Both IP sets full, plus a header: a larger file cannot be valid.
MAX_IMPORT_LINES = 2 * MAX_ACTIVE_PER_VERSION + 1
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_IN_CHUNK = 2_000  # cidr__in lookups stay well under SQLite's bound-parameter limit


class ImportFormat(StrEnum):
    AUTO = "auto"
    CSV = "csv"
    LINES = "lines"


class LineStatus(StrEnum):
    VALID = "valid"  # would be imported (dry run, or refused import elsewhere)
    CREATED = "created"
    REFUSED = "refused"


@dataclass(kw_only=True)
class ImportLine:
    line: int
    cidr: str  # normalised when it parsed, else as given
    label: str = ""
    note: str = ""
    expires_at: datetime | None = None
    ip_version: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    created: bool = False
    network_id: int | None = None

    @property
    def status(self) -> LineStatus:
        if self.errors:
            return LineStatus.REFUSED
        return LineStatus.CREATED if self.created else LineStatus.VALID

    def refuse(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "cidr": self.cidr,
            "label": self.label,
            "note": self.note,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "status": str(self.status),
            "errors": self.errors,
            "id": self.network_id,
        }


@dataclass(kw_only=True)
class ImportReport:
    lines: list[ImportLine]
    dry_run: bool
    valid_only: bool
    sync: SyncOutcome | None = None

    @property
    def refused(self) -> list[ImportLine]:
        return [line for line in self.lines if line.errors]

    @property
    def created(self) -> list[ImportLine]:
        return [line for line in self.lines if line.created]

    @property
    def valid(self) -> list[ImportLine]:
        return [line for line in self.lines if not line.errors]

    @property
    def imported(self) -> bool:
        return bool(self.created)


def _error(field_name: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field_name: [ValidationError(message, code=code)]})


def _unescape(cell: str) -> str:
    """Undo export's formula guard: "'=x" was "=x"."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_START:
        return cell[1:]
    return cell


def _escape(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def detect_format(text: str) -> ImportFormat:
    """CSV when the first non-blank line is a header (it starts with "cidr", which no
    address does), else one CIDR per line."""
    for raw in text.splitlines():
        if raw.strip():
            first = raw.strip().lstrip("\ufeff").lower()
            return ImportFormat.CSV if first.startswith("cidr") else ImportFormat.LINES
    return ImportFormat.LINES


def parse_import(
    *, text: object, format: str = ImportFormat.AUTO, label: object = None
) -> list[ImportLine]:
    """Split the text into numbered lines with their raw values (nothing checked but the
    shape). A malformed whole (no text, a bad header, too many lines, no label for plain
    lines) raises ValidationError naming the field and, for the header, line 1."""
    if not isinstance(text, str) or not text.strip():
        raise _error("text", "Paste or upload at least one network.", "required")
    if format not in ImportFormat.__members__.values():
        raise _error("format", "The format must be auto, csv or lines.")
    text = text.lstrip("\ufeff")  # Excel's byte-order mark
    chosen = detect_format(text) if format == ImportFormat.AUTO else ImportFormat(format)
    default_label = label.strip() if isinstance(label, str) else ""
    physical = text.splitlines()
    if len(physical) > MAX_IMPORT_LINES:
        raise _error(
            "text",
            f"That is {len(physical):,} lines; at most {MAX_IMPORT_LINES:,} fit (both WAF "
            "sets full). Split the file.",
            "too_many_lines",
        )
    if chosen == ImportFormat.LINES:
        if not default_label:
            raise _error(
                "label",
                "One CIDR per line has no label column: give one label for the whole paste "
                "(e.g. 'Branch offices'), or use CSV with a label column.",
                "required",
            )
        return [
            ImportLine(line=number, cidr=raw.strip(), label=default_label)
            for number, raw in enumerate(physical, start=1)
            if raw.strip() and not raw.strip().startswith("#")
        ]
    return _parse_csv(physical, default_label)


def _parse_csv(physical: list[str], default_label: str) -> list[ImportLine]:
    reader = csv.reader(physical)
    header_row = next(reader, [])
    header = [column.strip().lower() for column in header_row]
    unknown = [column for column in header if column not in CSV_COLUMNS]
    if "cidr" not in header or unknown or len(set(header)) != len(header):
        raise _error(
            "text",
            "Line 1 must be the header, with the columns cidr (required), label, note and "
            f"expires_at, each once; it is {','.join(header_row)[:200]!r}.",
            "bad_header",
        )
    if "label" not in header and not default_label:
        raise _error(
            "label",
            "The CSV has no label column: add one, or give one label for the whole file.",
            "required",
        )
    lines: list[ImportLine] = []
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, (_unescape(cell.strip()) for cell in row), strict=False))
        line = ImportLine(
            line=number,
            cidr=cells.get("cidr", ""),
            label=cells.get("label") or default_label,
            note=cells.get("note", ""),
        )
        if len(row) > len(header):
            line.refuse(
                "row", f"{len(row)} fields for {len(header)} columns (quote commas in text)."
            )
        raw_expiry = cells.get("expires_at", "")
        if raw_expiry:
            parsed = parse_datetime(raw_expiry) if len(raw_expiry) <= 64 else None
            if parsed is None:
                line.refuse(
                    "expires_at",
                    f"'{raw_expiry[:40]}' is not a date and time; use ISO 8601 such as "
                    "2026-12-31T18:00:00Z (or leave it empty for no expiry).",
                )
            else:
                # Like the API: a time without a zone is in the server's zone (UTC).
                line.expires_at = (
                    timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
                )
        lines.append(line)
    return lines


def _check_line(line: ImportLine, *, is_superuser: bool, default_expiry: datetime | None) -> None:
    """The single-add rules that need no database."""
    checks: list[tuple[Any, tuple[Any, ...]]] = [
        (clean_label, (line.label,)),
        (clean_note, (line.note,)),
    ]
    for func, args in checks:
        try:
            func(*args)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                for message in messages:
                    line.refuse(key, message)
    if line.expires_at is None and default_expiry is not None and "expires_at" not in line.errors:
        line.expires_at = default_expiry
    if line.expires_at is not None:
        try:
            clean_expires_at(line.expires_at)
        except ValidationError as exc:
            for message in exc.messages:
                line.refuse("expires_at", message)
    line.label = line.label.strip()
    line.note = line.note.strip()
    try:
        network = parse_network(line.cidr)
    except ValidationError as exc:
        for message in exc.messages:
            line.refuse("cidr", message)
        return
    line.cidr = str(network)
    line.ip_version = network.version
    try:
        check_network_policy(network, is_superuser=is_superuser)
    except ValidationError as exc:
        for message in exc.messages:
            line.refuse("cidr", message)


def _check_against_database(lines: list[ImportLine]) -> None:
    """Duplicates (in the file, in the allowlist) and the 10,000 per set limit, counting the
    whole import: the lines past the room left in a set are refused, in file order."""
    first_seen: dict[str, int] = {}
    for line in lines:
        if line.ip_version is None:
            continue
        if line.cidr in first_seen:
            line.refuse("cidr", f"{line.cidr} is already on line {first_seen[line.cidr]}.")
        else:
            first_seen[line.cidr] = line.line
    cidrs = list(first_seen)
    existing: dict[str, str] = {}
    for start in range(0, len(cidrs), _IN_CHUNK):
        chunk = cidrs[start : start + _IN_CHUNK]
        existing.update(AllowedNetwork.objects.filter(cidr__in=chunk).values_list("cidr", "label"))
    for line in lines:
        if line.ip_version is not None and line.cidr in existing:
            line.refuse("cidr", f"{line.cidr} is already on the allowlist ({existing[line.cidr]}).")
    room = {
        version: MAX_ACTIVE_PER_VERSION
        - AllowedNetwork.objects.active().filter(ip_version=version).count()
        for version in {line.ip_version for line in lines if line.ip_version}
    }
    for line in lines:
        if line.errors or line.ip_version is None:
            continue
        if room[line.ip_version] <= 0:
            line.refuse(
                "cidr",
                f"The IPv{line.ip_version} allowlist would exceed {MAX_ACTIVE_PER_VERSION:,} "
                "active networks, WAF's limit per IP set.",
            )
        else:
            room[line.ip_version] -= 1


def import_networks(
    *,
    requester: Requester,
    text: object,
    format: str = ImportFormat.AUTO,
    label: object = None,
    default_expires_at: datetime | None = None,
    valid_only: bool = False,
    dry_run: bool = False,
    source: str = AllowedNetwork.Source.CONSOLE,
    gateway: WafIpSetGateway | None = None,
) -> ImportReport:
    """Check every line; unless `dry_run`, save them all (or, with `valid_only`, the valid
    ones) in one transaction and sync once. A refused line is in the report, never raised;
    a malformed whole raises ValidationError."""
    lines = parse_import(text=text, format=format, label=label)
    if not lines:
        raise _error("text", "There is no network in it (only blank or comment lines).", "required")
    for line in lines:
        _check_line(line, is_superuser=requester.is_superuser, default_expiry=default_expires_at)
    report = ImportReport(lines=lines, dry_run=dry_run, valid_only=valid_only)
    if dry_run:
        _check_against_database(lines)
        return report
    with transaction.atomic():
        # Under the allowlist lock: two imports (or an import and a single add) at 9,999
        # must not both fit, and no duplicate may slip in between check and insert.
        lock_sync_states()
        _check_against_database(lines)
        if report.refused and not valid_only:
            return report
        to_create = report.valid
        if not to_create:
            return report
        user = requester.authenticated_user
        # Valid lines parsed, so each has its version.
        networks = [
            AllowedNetwork(
                cidr=line.cidr,
                ip_version=line.ip_version or 0,
                label=line.label,
                note=line.note,
                expires_at=line.expires_at,
                source=source,
                created_by=user,
            )
            for line in to_create
        ]
        AllowedNetwork.objects.bulk_create(networks, batch_size=1_000)
        if any(network.pk is None for network in networks):
            ids = _ids_by_cidr(line.cidr for line in to_create)
            for network in networks:
                network.pk = ids[network.cidr]
        for line, network in zip(to_create, networks, strict=True):
            line.created = True
            line.network_id = network.pk
        AuditEvent.objects.bulk_create(
            [
                audit_event(
                    requester=requester,
                    action="network.allow",
                    subject=network.cidr,
                    after=network_snapshot(network),
                    reason=f"Bulk import, line {line.line}.",
                )
                for line, network in zip(to_create, networks, strict=True)
            ],
            batch_size=1_000,
        )
        # One generation per changed set (group commit): one sync round covers the import.
        versions = sorted({line.ip_version for line in to_create if line.ip_version})
        generations = {version: mark_desired(version) for version in versions}
    outcomes = [
        sync_after_change(version=v, generation=g, requester=requester, gateway=gateway)
        for v, g in generations.items()
    ]
    report.sync = _one_outcome(outcomes)
    return report


def _one_outcome(outcomes: list[SyncOutcome]) -> SyncOutcome:
    """Applied when every changed set is; otherwise pending, with each set's reason."""
    pending = [o for o in outcomes if o.status != ChangeSyncStatus.APPLIED]
    if not pending:
        return outcomes[0] if outcomes else SyncOutcome(status=ChangeSyncStatus.APPLIED)
    reasons = " ".join(dict.fromkeys(o.reason for o in pending if o.reason))
    return SyncOutcome(status=pending[0].status, reason=reasons)


def _ids_by_cidr(cidrs: Iterable[str]) -> dict[str, int]:
    """The new rows' ids, where bulk_create could not return them (PostgreSQL and SQLite
    3.35+ do; other backends need this read, one per chunk)."""
    wanted = list(cidrs)
    ids: dict[str, int] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        ids.update(
            AllowedNetwork.objects.filter(cidr__in=wanted[start : start + _IN_CHUNK]).values_list(
                "cidr", "pk"
            )
        )
    return ids


# -- export ----------------------------------------------------------------------------------


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def networks_for_export(*, include_expired: bool = False) -> Iterator[AllowedNetwork]:
    """Oldest first (the order they were added), so a re-import keeps it."""
    networks = AllowedNetwork.objects.select_related("created_by").order_by("created_at", "id")
    if not include_expired:
        networks = networks.active()
    return networks.iterator(chunk_size=2_000)


def export_csv(networks: Iterable[AllowedNetwork]) -> Iterator[str]:
    """The import's CSV, one chunk per row (header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def row(values: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield row(CSV_COLUMNS)
    for network in networks:
        yield row(
            [
                network.cidr,
                _escape(network.label),
                _escape(network.note),
                network.expires_at.isoformat() if network.expires_at else "",
            ]
        )


def export_record(network: AllowedNetwork) -> dict[str, Any]:
    return {
        **network_snapshot(network),
        "status": str(network.status),
        "created_at": network.created_at.isoformat(),
        "created_by": network.created_by.get_username() if network.created_by else None,
    }


def export_json(networks: Iterable[AllowedNetwork]) -> Iterator[str]:
    """A JSON array, one network per chunk (so 10,000 rows never sit in one string)."""
    yield "["
    for index, network in enumerate(networks):
        yield ("," if index else "") + "\n" + json.dumps(export_record(network))
    yield "\n]\n"
