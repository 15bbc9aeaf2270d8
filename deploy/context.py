"""What every resource module gets while planning and applying one edge."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deploy.aws import EDGE_TAG, AwsClients, tag_list
from deploy.config import EdgeConfig


@dataclass
class OriginSecret:
    """The X-Origin-Verify value CloudFront sends; `previous` only during a rotation.

    No store of its own: between runs it is read back from the distribution's custom
    origin header (or, before the distribution exists, from the ALB rule).
    """

    current: str
    previous: str | None = None
    generated: bool = False  # made by this run: print it once, after apply

    @property
    def accepted(self) -> list[str]:
        return [self.current] + ([self.previous] if self.previous else [])


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

    @property
    def name(self) -> str:
        return self.config.name

    def tags(self, **kw: str) -> list[dict[str, str]]:
        return tag_list(self.config.name, self.config.tags, **kw)

    def is_ours(self, tags: dict[str, str]) -> bool:
        return tags.get(EDGE_TAG) == self.config.name
