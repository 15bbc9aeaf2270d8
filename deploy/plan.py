"""Changes as data, and their Terraform-like rendering.

A resource module never changes anything while planning: it reads what exists, compares
it with what the config asks for and returns `Change` objects. Each carries the field
differences to print and an `apply` callable the engine runs only with --apply, inside
`aws_errors(change.title)`: an AWS failure names the change that failed.
Secret values are never rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
SYMBOLS = {"create": "+", "update": "~", "delete": "-"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    sensitive: bool = False


Apply = Callable[[], None]
Fields = Iterable[FieldChange]


@dataclass
class Change:
    action: str  # "create" | "update" | "delete"
    kind: str  # e.g. "wafv2 web acl"
    name: str
    apply: Apply
    fields: list[FieldChange] = field(default_factory=list)
    note: str = ""

    @classmethod
    def create(
        cls, kind: str, name: str, apply: Apply, fields: Fields = (), note: str = ""
    ) -> Change:
        return cls("create", kind, name, apply, list(fields), note)

    @classmethod
    def update(
        cls, kind: str, name: str, apply: Apply, fields: Fields = (), note: str = ""
    ) -> Change:
        return cls("update", kind, name, apply, list(fields), note)

    @classmethod
    def delete(cls, kind: str, name: str, apply: Apply, note: str = "") -> Change:
        return cls("delete", kind, name, apply, [], note)

    @property
    def title(self) -> str:
        """What applying it does, as a failure names it: "Creating wafv2 ip set gh-office-v4"."""
        verb = {"create": "Creating", "update": "Updating", "delete": "Destroying"}[self.action]
        return f"{verb} {self.kind} {self.name}"


def diff(
    actual: dict[str, Any], desired: dict[str, Any], *, sensitive: frozenset[str] = frozenset()
) -> list[FieldChange]:
    """Field differences between two flat summaries (same keys, comparable values)."""
    changes = []
    for key, new in desired.items():
        old = actual.get(key)
        if old != new:
            changes.append(FieldChange(key, old, new, key in sensitive))
    return changes


def _show(value: Any, sensitive: bool) -> str:
    if sensitive:
        return SENSITIVE
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value if value == UNKNOWN else json.dumps(value)
    return json.dumps(value, sort_keys=True, default=str)


def render_change(change: Change) -> list[str]:
    symbol = SYMBOLS[change.action]
    lines = [
        f"  {symbol} {change.kind} {change.name}" + (f"  ({change.note})" if change.note else "")
    ]
    for fc in change.fields:
        if change.action == "create":
            lines.append(f"      {fc.field}: {_show(fc.new, fc.sensitive)}")
        elif change.action == "delete":
            lines.append(f"      {fc.field}: {_show(fc.old, fc.sensitive)}")
        else:
            lines.append(
                f"      {fc.field}: {_show(fc.old, fc.sensitive)} -> {_show(fc.new, fc.sensitive)}"
            )
    return lines


def summary_line(changes: list[Change]) -> str:
    if not changes:
        return "No changes. The edge matches the configuration."
    counts = {a: sum(1 for c in changes if c.action == a) for a in SYMBOLS}
    return (
        f"Plan: {counts['create']} to add, {counts['update']} to change, "
        f"{counts['delete']} to destroy."
    )


def render_plan(changes: list[Change]) -> str:
    lines: list[str] = []
    for change in changes:
        lines.extend(render_change(change))
    if lines:
        lines.append("")
    lines.append(summary_line(changes))
    return "\n".join(lines)
