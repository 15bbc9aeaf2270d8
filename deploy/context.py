"""What every resource module gets while planning and applying one edge."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from deploy.aws import EDGE_TAG, AwsClients, tag_list
from deploy.config import EdgeConfig

if TYPE_CHECKING:
    from deploy.origin_secret import OriginSecret

T = TypeVar("T")


@dataclass
class Context:
    config: EdgeConfig
    clients: AwsClients
    out: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stdout))
    poll_interval: float = 10.0
    secret: OriginSecret | None = None
    # Ids and ARNs found or created so far, e.g. state["web_acl_arn"]; UNKNOWN while
    # planning a resource that does not exist yet.
    state: dict[str, Any] = field(default_factory=dict)
    created_ip_sets: bool = False
    # --adopt: tag untagged namesakes instead of refusing them (deploy/ownership.py).
    adopt: bool = False
    # --destroy: foreign namesakes left alone, one line each for the report.
    skipped: list[str] = field(default_factory=list)
    # Reads that stay true until the next write (read_once); the engine empties it after
    # every change it applies.
    reads: dict[str, Any] = field(default_factory=dict)
    # True while the engine applies one change: a change reads what it just wrote (a lock
    # token, a deletion it waits for), so nothing is remembered then.
    applying: bool = False

    @property
    def name(self) -> str:
        return self.config.name

    def tags(self, **kw: str) -> list[dict[str, str]]:
        return tag_list(self.config.name, self.config.tags, **kw)

    def read_once(self, key: str, read: Callable[[Context], T]) -> T:
        """`read(self)`, remembered in `reads` under `key` until the next write (while a
        change applies, read every time)."""
        if self.applying:
            return read(self)
        if key not in self.reads:
            self.reads[key] = read(self)
        # One key, one reader: what is stored under `key` is what `read` returned.
        return cast(T, self.reads[key])

    def is_ours(self, tags: dict[str, str]) -> bool:
        return tags.get(EDGE_TAG) == self.config.name
