"""DEV/TEST ONLY: every boto3 request checked against its botocore input shape.

moto accepts requests real AWS refuses. botocore's own client-side validation checks
types, required members and `min` lengths only; AWS also enforces each member's
`pattern`, `max` length, numeric range, list/map size and enum values, and refuses the
request (ValidationException, WAFInvalidParameterException, ...). This guard checks those
before the request is built, recursively through structures, lists and maps, and fails
with `Operation.Member.Path: value (truncated) rule`, e.g.

    CreateIPSet.Description: 'Gatehouse x: office IPv4 networks (app-managed)' does not
    match pattern ^[\\w+=:#@/\\-,\\.][\\w+=:#@/\\-,\\.\\s]+[\\w+=:#@/\\-,\\.]$

botocore's own validator (types, required members) runs here too: a client built with
`parameter_validation=False` (the app's wafv2 client, for speed) would skip it, and the
event does not say which client is calling. So in dev/test a malformed request fails
with AwsConformanceError, naming botocore's complaint.

How it is installed, and why this way: `install()` appends a `before-parameter-build`
handler to `botocore.handlers.BUILTIN_HANDLERS`, the list every botocore session (and so
every boto3 Session, the default one included) copies onto its event system when it is
created. It is the mechanism botocore uses for its own parameter checks (S3 bucket names)
and moto uses to intercept calls, so every client made afterwards in the process is
covered without wrapping any factory of ours, and the check runs before serialisation:
a refused request is never sent. Sessions created before `install()` are not covered, so
install first (tests/conftest.py does it at import; `runlocal` before its first client).

Who turns it on (production never imports this module):
- the test suite: tests/conftest.py, for the whole session;
- `manage.py runlocal` (the local stack: its provisioning, its local edge and the Django
  app it serves all run in that one process);
- any other process (gunicorn workers of the soak suite, commands run against the local
  stack from another terminal) when `GATEHOUSE_AWS_CONFORMANCE=1`: `deploy.apps` reads
  the variable in `ready()` and only then imports this module.

`GATEHOUSE_AWS_CONFORMANCE_REPORT=<path>` makes a process append what it checked to a
JSON-lines file (violations at once, counts at exit), so the test session can report the
operations its subprocesses called and fail on their violations.

Patterns are botocore's (Smithy/Java-style) regexes, searched, not anchored (Smithy's
rule). Python's `re` lacks some constructs; `_translate()` handles:
- `\\p{X}` / `\\P{X}` Unicode categories (L, Lu, N, Z, ... in tag keys and values):
  expanded to explicit code point ranges from `unicodedata` (`\\P{X}` inside a character
  class is not expressible and leaves the pattern unchecked);
- `\\z` (end of input) -> `\\Z`; a final unescaped `$` -> `\\Z` (Java's `$` would also
  match before a final newline, AWS's validators do not);
- `(?<name>` named groups -> `(?P<name>`;
- an unescaped `[` inside a character class (Java: a nested union; ECMA-262: a literal)
  is ambiguous: such a pattern is left unchecked.
A pattern that still does not compile is skipped (never failing the request) and listed
by `uncompilable_patterns()`. Across botocore 1.44.8, 266 of 10,093 patterns stay
unchecked, none in the services Gatehouse calls (wafv2, cloudfront, ec2, elbv2, s3, acm;
with iam and sts, 188 patterns, all compiled): Java UTF-16 surrogate ranges
(`\\uD800\\uDC00-\\uDBFF\\uDFFF`), POSIX/Java classes (`\\p{Print}`, `\\p{ASCII}`,
`\\p{Graph}`, `\\p{Alnum}`, `\\p{XDigit}`, `\\p{IsAlphabetic}`), `\\P{C}` inside a class,
Java's literal '-' after a class escape (`[\\w-_]`), inline flags mid-pattern (`(?i)`),
quantified anchors (`${2,64}`), `\\x{..}`.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import re
import sys
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore import handlers
from botocore.validate import validate_parameters

ENV_SWITCH = "GATEHOUSE_AWS_CONFORMANCE"
ENV_REPORT = "GATEHOUSE_AWS_CONFORMANCE_REPORT"
EVENT = "before-parameter-build"
SHOWN_CHARS = 80  # of an offending value in a message


class AwsConformanceError(Exception):
    """A request real AWS would refuse. Deliberately not a BotoCoreError: our AWS wrappers
    translate those into "AWS unreachable" errors, which would hide the bug."""

    def __init__(self, operation: str, problems: list[str]) -> None:
        self.operation = operation
        self.problems = problems
        super().__init__(
            "Request refused by the AWS conformance guard (real AWS would reject it):\n  "
            + "\n  ".join(problems)
        )


# -- compiled checks ---------------------------------------------------------------------


@dataclass
class Node:
    """The checks for one shape; `children` only where something below is checked."""

    kind: str  # structure | list | map | string | number | blob | other
    # `min` is enforced for strings, lists and numbers by botocore's validator (which the
    # guard also runs); here it is checked only for maps and blobs.
    min: float | None = None
    max: float | None = None
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    enum: frozenset[str] | None = None
    members: dict[str, Node] = field(default_factory=dict)
    item: Node | None = None
    key: Node | None = None
    value: Node | None = None

    def checks_anything(self) -> bool:
        return (
            self.min is not None
            or self.max is not None
            or self.pattern is not None
            or self.enum is not None
            or bool(self.members)
            or self.item is not None
            or self.key is not None
            or self.value is not None
        )


_UNCOMPILABLE: dict[str, str] = {}
_CATEGORY_RANGES: dict[str, str] = {}
_category_lock = threading.Lock()


def _category_class_body(category: str) -> str:
    """A character-class body (no brackets) of every code point in a Unicode general
    category (`L`) or subcategory (`Lu`), as `\\uXXXX-\\uXXXX` ranges. All categories
    are computed in one pass over the code points, once per process (~0.3 s)."""
    with _category_lock:
        if not _CATEGORY_RANGES:
            ranges: dict[str, list[tuple[int, int]]] = {}
            code = 0
            categories = map(unicodedata.category, map(chr, range(sys.maxunicode + 1)))
            for sub, run in itertools.groupby(categories):
                end = code + sum(1 for _ in run) - 1
                for name in (sub, sub[0]):
                    spans = ranges.setdefault(name, [])
                    if spans and spans[-1][1] == code - 1:
                        spans[-1] = (spans[-1][0], end)
                    else:
                        spans.append((code, end))
                code = end + 1
            for name, spans in ranges.items():
                _CATEGORY_RANGES[name] = "".join(
                    _escape_code(a) if a == b else f"{_escape_code(a)}-{_escape_code(b)}"
                    for a, b in spans
                )
        if category not in _CATEGORY_RANGES:
            raise re.error(f"unknown Unicode category {category!r}")
        return _CATEGORY_RANGES[category]


def _escape_code(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _translate(pattern: str) -> str:
    """A botocore (Java-style) regex as Python `re` syntax; raises re.error if it cannot."""
    out: list[str] = []
    i, in_class, n = 0, False, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.index("}", i)
                category = pattern[i + 3 : end]
                body = _category_class_body(category)
                if in_class:
                    if nxt == "P":
                        raise re.error(f"\\P{{{category}}} inside a character class")
                    out.append(body)
                else:
                    out.append(("[^" if nxt == "P" else "[") + body + "]")
                i = end + 1
                continue
            if nxt == "z" and not in_class:
                out.append("\\Z")
            else:
                out.append(char + nxt)
            i += 2
            continue
        if in_class:
            if char == "[":
                # Java reads a nested class as a union, ECMA-262 as a literal '[':
                # ambiguous, so the pattern is left unchecked rather than guessed.
                raise re.error("'[' inside a character class (a union in Java)")
            if char == "]":
                in_class = False
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
            # A leading ']' (or '^]') is a literal, not the end of the class.
            for literal in ("^]", "]", "^"):
                if pattern.startswith(literal, i + 1):
                    out.append(literal)
                    i += len(literal)
                    break
        elif char == "$" and i == n - 1:
            out.append("\\Z")
        elif pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _compile(pattern: str) -> re.Pattern[str] | None:
    if pattern not in _PATTERNS:
        try:
            _PATTERNS[pattern] = re.compile(_translate(pattern))
        except (re.error, ValueError) as exc:
            _UNCOMPILABLE[pattern] = str(exc)
            _PATTERNS[pattern] = None
    return _PATTERNS[pattern]


def uncompilable_patterns() -> dict[str, str]:
    """Patterns met so far that could not be checked, with the reason."""
    return dict(_UNCOMPILABLE)


_NUMBER_TYPES = {"integer", "long", "float", "double"}


def _build(shape: Any, seen: dict[str, Node | None]) -> Node | None:
    """Compile a botocore Shape into a Node, or None when nothing in it is checked."""
    name = shape.name
    if name in seen:  # recursive shapes (e.g. WAF statements): reuse the node
        return seen[name]
    meta = shape.metadata
    type_name = shape.type_name
    if type_name == "structure":
        node = Node(kind="structure")
        seen[name] = node
        for member_name, member in shape.members.items():
            child = _build(member, seen)
            if child is not None:
                node.members[member_name] = child
    elif type_name == "list":
        node = Node(kind="list", min=meta.get("min"), max=meta.get("max"))
        seen[name] = node
        node.item = _build(shape.member, seen)
    elif type_name == "map":
        node = Node(kind="map", min=meta.get("min"), max=meta.get("max"))
        seen[name] = node
        node.key = _build(shape.key, seen)
        node.value = _build(shape.value, seen)
    elif type_name == "string":
        pattern = meta.get("pattern")
        node = Node(
            kind="string",
            min=meta.get("min"),
            max=meta.get("max"),
            pattern=_compile(pattern) if pattern else None,
            pattern_text=pattern or "",
            enum=frozenset(shape.enum) if getattr(shape, "enum", None) else None,
        )
    elif type_name in _NUMBER_TYPES:
        node = Node(kind="number", min=meta.get("min"), max=meta.get("max"))
    elif type_name == "blob":
        node = Node(kind="blob", min=meta.get("min"), max=meta.get("max"))
    else:
        node = Node(kind="other")
    # Recursive structures are referenced before they are complete, so a structure
    # stays a Node (possibly empty) rather than collapsing to None.
    if node.kind == "structure":
        return node
    seen[name] = node if node.checks_anything() else None
    return seen[name]


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        value = value[: SHOWN_CHARS - 3] + "..."
    return repr(value)


def _check(node: Node | None, value: Any, path: str, problems: list[str]) -> None:
    if node is None or value is None:
        return
    kind = node.kind
    if kind == "string":
        if not isinstance(value, str):
            return  # botocore's validator reports wrong types
        length = len(value)
        if node.max is not None and length > node.max:
            problems.append(
                f"{path}: {_show(value)} is {length} characters, more than {node.max:g}"
            )
        if node.enum is not None and value not in node.enum:
            problems.append(f"{path}: {_show(value)} is not one of {sorted(node.enum)}")
        if node.pattern is not None and node.pattern.search(value) is None:
            problems.append(f"{path}: {_show(value)} does not match pattern {node.pattern_text}")
    elif kind == "structure":
        if not isinstance(value, dict):
            return
        for member_name, child in node.members.items():
            if member_name in value:
                _check(child, value[member_name], f"{path}.{member_name}", problems)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            return
        if node.max is not None and len(value) > node.max:
            problems.append(f"{path}: {len(value)} items, more than the maximum {node.max:g}")
        item_node = node.item
        if item_node is None:
            return
        if item_node.kind == "string":
            # Fast path (10,000 addresses per IP set write): test each string inline and
            # build a path and message only for one that fails.
            limit, enum, pattern = item_node.max, item_node.enum, item_node.pattern
            for index, item in enumerate(value):
                if isinstance(item, str) and (
                    (limit is not None and len(item) > limit)
                    or (enum is not None and item not in enum)
                    or (pattern is not None and pattern.search(item) is None)
                ):
                    _check(item_node, item, f"{path}[{index}]", problems)
            return
        for index, item in enumerate(value):
            _check(item_node, item, f"{path}[{index}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            return
        _check_size(node, len(value), "entries", path, problems)
        for key, item in value.items():
            _check(node.key, key, f"{path} key", problems)
            _check(node.value, item, f"{path}[{key}]", problems)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if node.max is not None and value > node.max:
            problems.append(f"{path}: {value} is more than the maximum {node.max:g}")
    elif kind == "blob":
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, bytes | bytearray):
            _check_size(node, len(value), "bytes", path, problems)


def _check_size(node: Node, size: int, unit: str, path: str, problems: list[str]) -> None:
    if node.min is not None and size < node.min:
        problems.append(f"{path}: {size} {unit}, fewer than the minimum {node.min:g}")
    if node.max is not None and size > node.max:
        problems.append(f"{path}: {size} {unit}, more than the maximum {node.max:g}")


# -- the guard ---------------------------------------------------------------------------

_compiled: dict[tuple[str, str, str], Node | None] = {}
_state_lock = threading.Lock()
_checked: Counter[str] = Counter()
_violations: list[str] = []
_report_path: str | None = None
_report_decided = False


def _operation_node(model: Any) -> Node | None:
    service = model.service_model
    key = (service.service_name, service.api_version, model.name)
    try:
        return _compiled[key]
    except KeyError:
        pass
    shape = model.input_shape
    node = _build(shape, {}) if shape is not None else None
    _compiled[key] = node  # a race only compiles twice
    return node


def check_request(params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
    """The `before-parameter-build` handler: raise AwsConformanceError on any violation."""
    label = f"{model.service_model.service_name}.{model.name}"
    problems: list[str] = []
    if model.input_shape is not None:
        # botocore's own checks too: a client built with parameter_validation=False
        # skips them, and the event cannot tell which client is calling.
        try:
            validate_parameters(params, model.input_shape)
        except Exception as exc:  # botocore's ParamValidationError, reported as ours
            problems.append(f"{model.name}: {exc}")
    _check(_operation_node(model), params, model.name, problems)
    with _state_lock:
        first = label not in _checked
        _checked[label] += 1
        if problems:
            _violations.extend(problems)
    if first:  # at once: a process ended by a signal never writes its counts at exit
        _write_report({"operations": [label]})
    if problems:
        _write_report({"violations": problems, "operation": label})
        raise AwsConformanceError(model.name, problems)


def install(*, report_to: str | None = None) -> None:
    """Check every request of every botocore session created from now on (idempotent).

    `report_to`: the JSON-lines report of this process (default: $ENV_REPORT; "" for
    none). The first call decides it."""
    global _report_path, _report_decided
    if (EVENT, check_request) not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append((EVENT, check_request))
    if not _report_decided:
        _report_decided = True
        path = os.environ.get(ENV_REPORT) if report_to is None else report_to
        if path:
            _report_path = path
            atexit.register(_write_counts)


def uninstall() -> None:
    """Stop checking clients created from now on (existing clients keep the handler)."""
    while (EVENT, check_request) in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.remove((EVENT, check_request))


def installed() -> bool:
    return (EVENT, check_request) in handlers.BUILTIN_HANDLERS


def checked() -> Counter[str]:
    """Requests checked in this process, by `service.Operation`."""
    with _state_lock:
        return Counter(_checked)


def violations() -> list[str]:
    with _state_lock:
        return list(_violations)


def clear_violations() -> None:
    with _state_lock:
        _violations.clear()


def _write_report(record: dict[str, Any]) -> None:
    if not _report_path:
        return
    record = {"pid": os.getpid(), **record}
    try:
        with open(_report_path, "a", encoding="utf-8") as report:
            report.write(json.dumps(record) + "\n")
    except OSError:
        pass  # a report is a convenience; never break a request over it


def _write_counts() -> None:
    counts = checked()
    if counts:
        _write_report({"checked": dict(counts)})


@dataclass
class Report:
    """What processes reported to one file."""

    counts: Counter[str]  # requests by operation, from processes that exited normally
    operations: set[str]  # every operation checked, however the process ended
    violations: list[str]


def read_report(path: str) -> Report:
    report = Report(Counter(), set(), [])
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                report.counts.update(record.get("checked", {}))
                report.operations.update(record.get("operations", []))
                report.violations.extend(record.get("violations", []))
    except FileNotFoundError:
        pass
    report.operations.update(report.counts)
    return report
