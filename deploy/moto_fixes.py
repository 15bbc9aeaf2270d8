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

import contextlib
import copy
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
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


# -- WAF (wafv2) -------------------------------------------------------------------------
#
# What AWS WAF documents and moto 5.2.5 lacks, applied by `apply_waf_fixes()` wherever the
# fake runs: the whole test session (tests/conftest.py), the local stack's moto server
# (deploy/localstack/aws.py) and the soak suite's (tests/reliability/moto_faults.py).
# Each has a canary in tests/deploy/test_moto_waf_fixes.py that fails once moto has it.
#
# - Lock tokens: moto hands out 6-character IP set tokens; real ones are UUIDs (botocore's
#   LockToken pattern), so the conformance guard would refuse moto's own tokens.
# - Optimistic locking, atomically: moto compares the token and then updates, and its
#   server answers from many threads, so two writers holding the same token can both
#   win (and a reader can get new addresses with the old token). Real WAF lets exactly
#   one win and answers the other WAFOptimisticLockException. A lock per process makes
#   check + update + the answer's snapshot one step.
# - "Maximum number of IP addresses in CIDR notation per IP set: 10,000" (WAF quotas):
#   create/update with more -> WAFLimitsExceededException.
# - Custom response bodies (WAF quotas): at most 4 KB of content per body, 50 KB for all
#   of a web ACL's bodies together, 50 bodies -> WAFLimitsExceededException. (botocore's
#   model allows 10,240 characters per body: the quota is lower than the model.)

WAF_MAX_ADDRESSES_PER_IP_SET = 10_000
WAF_MAX_RESPONSE_BODY_BYTES = 4 * 1024
WAF_MAX_RESPONSE_BODIES_BYTES = 50 * 1024
WAF_MAX_RESPONSE_BODIES = 50
WAF_LIMITS_MESSAGE = (
    "AWS WAF couldn't perform the operation because you exceeded your resource limit."
)

_waf_lock = threading.RLock()
# (class, attribute) -> moto's own function, while the WAF fixes are applied.
_waf_originals: dict[tuple[type, str], Callable[..., Any]] = {}


def waf_limits_exceeded(detail: str) -> Exception:
    from moto.wafv2.exceptions import WAFv2ClientError

    return WAFv2ClientError("WAFLimitsExceededException", f"{WAF_LIMITS_MESSAGE} {detail}")


def _check_addresses(addresses: list[str] | None) -> None:
    if addresses is not None and len(addresses) > WAF_MAX_ADDRESSES_PER_IP_SET:
        raise waf_limits_exceeded(
            f"An IP set holds at most {WAF_MAX_ADDRESSES_PER_IP_SET} addresses; "
            f"got {len(addresses)}."
        )


def _check_response_bodies(bodies: dict[str, Any] | None) -> None:
    if not bodies:
        return
    if len(bodies) > WAF_MAX_RESPONSE_BODIES:
        raise waf_limits_exceeded(
            f"A web ACL has at most {WAF_MAX_RESPONSE_BODIES} custom response bodies; "
            f"got {len(bodies)}."
        )
    total = 0
    for key, body in bodies.items():
        size = len(str((body or {}).get("Content", "")).encode("utf-8"))
        if size > WAF_MAX_RESPONSE_BODY_BYTES:
            raise waf_limits_exceeded(
                f"Custom response body '{key}' is {size} bytes; the maximum is "
                f"{WAF_MAX_RESPONSE_BODY_BYTES}."
            )
        total += size
    if total > WAF_MAX_RESPONSE_BODIES_BYTES:
        raise waf_limits_exceeded(
            f"The custom response bodies total {total} bytes; the maximum per web ACL is "
            f"{WAF_MAX_RESPONSE_BODIES_BYTES}."
        )


def apply_waf_fixes() -> Callable[[], None]:
    """Patch moto's WAFV2 in this process; returns a function that undoes the patch."""
    from moto.moto_api._internal import mock_random
    from moto.wafv2.models import FakeIPSet, WAFV2Backend

    if _waf_originals:
        return lambda: None
    originals = {
        (FakeIPSet, "__init__"): FakeIPSet.__init__,
        (FakeIPSet, "update"): FakeIPSet.update,
        (WAFV2Backend, "create_ip_set"): WAFV2Backend.create_ip_set,
        (WAFV2Backend, "update_ip_set"): WAFV2Backend.update_ip_set,
        (WAFV2Backend, "get_ip_set"): WAFV2Backend.get_ip_set,
        (WAFV2Backend, "delete_ip_set"): WAFV2Backend.delete_ip_set,
        (WAFV2Backend, "create_web_acl"): WAFV2Backend.create_web_acl,
        (WAFV2Backend, "update_web_acl"): WAFV2Backend.update_web_acl,
        (WAFV2Backend, "delete_web_acl"): WAFV2Backend.delete_web_acl,
    }

    def original(cls: type, name: str) -> Callable[..., Any]:
        return originals[(cls, name)]

    def bound(cls: type, name: str, args: tuple, kwargs: dict) -> dict[str, Any]:
        return inspect.signature(original(cls, name)).bind(*args, **kwargs).arguments

    def ip_set_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(FakeIPSet, "__init__")(self, *args, **kwargs)
        self.lock_token = str(mock_random.uuid4())

    def ip_set_update(self: Any, *args: Any, **kwargs: Any) -> None:
        original(FakeIPSet, "update")(self, *args, **kwargs)
        self.lock_token = str(mock_random.uuid4())

    def create_ip_set(*args: Any, **kwargs: Any) -> Any:
        _check_addresses(bound(WAFV2Backend, "create_ip_set", args, kwargs).get("addresses"))
        with _waf_lock:
            return copy.copy(original(WAFV2Backend, "create_ip_set")(*args, **kwargs))

    def update_ip_set(*args: Any, **kwargs: Any) -> Any:
        _check_addresses(bound(WAFV2Backend, "update_ip_set", args, kwargs).get("addresses"))
        with _waf_lock:  # token check + update + the snapshot answered: one step
            return copy.copy(original(WAFV2Backend, "update_ip_set")(*args, **kwargs))

    def get_ip_set(*args: Any, **kwargs: Any) -> Any:
        with _waf_lock:  # addresses and token from the same version
            return copy.copy(original(WAFV2Backend, "get_ip_set")(*args, **kwargs))

    def delete_ip_set(*args: Any, **kwargs: Any) -> Any:
        with _waf_lock:
            return original(WAFV2Backend, "delete_ip_set")(*args, **kwargs)

    def create_web_acl(*args: Any, **kwargs: Any) -> Any:
        arguments = bound(WAFV2Backend, "create_web_acl", args, kwargs)
        _check_response_bodies(arguments.get("custom_response_bodies"))
        with _waf_lock:
            return original(WAFV2Backend, "create_web_acl")(*args, **kwargs)

    def update_web_acl(*args: Any, **kwargs: Any) -> Any:
        arguments = bound(WAFV2Backend, "update_web_acl", args, kwargs)
        _check_response_bodies(arguments.get("custom_response_bodies"))
        with _waf_lock:
            return original(WAFV2Backend, "update_web_acl")(*args, **kwargs)

    def delete_web_acl(*args: Any, **kwargs: Any) -> Any:
        with _waf_lock:
            return original(WAFV2Backend, "delete_web_acl")(*args, **kwargs)

    replacements = {
        (FakeIPSet, "__init__"): ip_set_init,
        (FakeIPSet, "update"): ip_set_update,
        (WAFV2Backend, "create_ip_set"): create_ip_set,
        (WAFV2Backend, "update_ip_set"): update_ip_set,
        (WAFV2Backend, "get_ip_set"): get_ip_set,
        (WAFV2Backend, "delete_ip_set"): delete_ip_set,
        (WAFV2Backend, "create_web_acl"): create_web_acl,
        (WAFV2Backend, "update_web_acl"): update_web_acl,
        (WAFV2Backend, "delete_web_acl"): delete_web_acl,
    }
    for (cls, name), replacement in replacements.items():
        functools.update_wrapper(replacement, originals[(cls, name)])
        setattr(cls, name, replacement)
    _waf_originals.update(originals)

    def undo() -> None:
        for (cls, name), function in originals.items():
            setattr(cls, name, function)
        _waf_originals.clear()

    return undo


@contextlib.contextmanager
def without_waf_fixes() -> Iterator[None]:
    """moto as released, for a while (the canaries prove it still lacks each fix)."""
    patched = {key: getattr(*key) for key in _waf_originals}
    for (cls, name), function in _waf_originals.items():
        setattr(cls, name, function)
    try:
        yield
    finally:
        for (cls, name), function in patched.items():
            setattr(cls, name, function)
