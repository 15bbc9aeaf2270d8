"""DEV/TEST ONLY: patches to moto (the AWS stand-in), never imported by production code.

moto 5.2.5 loses fields our plan compares, which would make `provision_infra` report the
same change forever against the fake while real AWS is fine. The fix belongs where the
fake runs, not in production code: tests call `apply_moto_fixes()` through a fixture
(tests/deploy/conftest.py), and the local stack calls it in the process that hosts its
embedded moto server (moto's ThreadedMotoServer runs in-process, so the same class patch
applies).

Fixes:
- CloudFront `Origin` drops `OriginAccessControlId` and the `S3OriginConfig` block, so
  `get_distribution_config` returns an S3 origin without its OAC. We keep both.
- ELB DescribeTags takes at most 20 ARNs per call (API reference: "You can specify up to
  20 resources in a single call"; the botocore model has no max); moto takes any number.
  We refuse more with a ValidationError (the code is our assumption; the limit is not).

Known and harmless (no fix needed): the distribution ETag never changes (If-Match is not
checked); cache/origin-request-policy APIs are absent (deploy/ uses the managed policy
ids as constants); WAF addresses and ALB rule values are not validated (deploy/config.py
and deploy/engine.py validate our inputs themselves).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def apply_moto_fixes() -> Callable[[], None]:
    """Patch moto in this process; returns a function that undoes the patches."""
    undos = [_keep_s3_origin_access_control(), _limit_elb_describe_tags()]

    def undo() -> None:
        for one in reversed(undos):
            one()

    return undo


def _keep_s3_origin_access_control() -> Callable[[], None]:
    from moto.cloudfront import models as cloudfront_models

    origin_cls = cloudfront_models.Origin
    original_init = origin_cls.__init__
    if getattr(original_init, "_gatehouse_fix", False):
        return lambda: None

    def init(self: Any, origin: dict[str, Any]) -> None:
        original_init(self, origin)
        # Serialised by moto's response layer from these snake_case attribute names.
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
        if "S3OriginConfig" in origin:
            s3_config = origin["S3OriginConfig"] or {}
            self.s3_origin_config = {
                "OriginAccessIdentity": s3_config.get("OriginAccessIdentity") or ""
            }

    init._gatehouse_fix = True  # type: ignore[attr-defined]
    origin_cls.__init__ = init

    def undo() -> None:
        origin_cls.__init__ = original_init

    return undo


ELB_DESCRIBE_TAGS_MAX = 20


def _limit_elb_describe_tags() -> Callable[[], None]:
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    original = ELBv2Backend.describe_tags
    if getattr(original, "_gatehouse_fix", False):
        return lambda: None

    def describe_tags(self: Any, resource_arns: list[str]) -> dict[str, dict[str, str]]:
        if len(resource_arns) > ELB_DESCRIBE_TAGS_MAX:
            raise ELBClientError(
                "ValidationError",
                f"You can specify up to {ELB_DESCRIBE_TAGS_MAX} resources in a single call "
                f"({len(resource_arns)} given).",
            )
        return original(self, resource_arns)

    describe_tags._gatehouse_fix = True  # type: ignore[attr-defined]
    ELBv2Backend.describe_tags = describe_tags

    def undo() -> None:
        ELBv2Backend.describe_tags = original

    return undo
