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
- CloudFront response headers policies: moto 5.2.5 has no API for them at all (no route in
  moto/cloudfront/urls.py, no method in responses.py). `_add_response_headers_policies`
  adds create/get/list/update/delete with AWS's errors (name taken, no such policy, ETag
  precondition, in use by a distribution, CSP over 1783 characters), and a distribution
  that refers to a missing policy is refused (NoSuchResponseHeadersPolicy).
- Eventual consistency after create (`_add_unavailable_window`, off unless a window is
  set with `set_unavailable_window(seconds)`): for that long after an IP set or web ACL is
  created, a web ACL that references the new IP set is refused with
  WAFUnavailableEntityException, and a distribution that names the new web ACL with
  InvalidWebACLId, as AWS does for a short while after creation.

Known and harmless (no fix needed): the distribution ETag never changes (If-Match is not
checked); cache/origin-request-policy APIs are absent (deploy/ uses the managed policy
ids as constants); WAF addresses and ALB rule values are not validated (deploy/config.py
and deploy/engine.py validate our inputs themselves).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# Seconds after creation in which WAF entities are not usable yet (0: off).
_unavailable = {"seconds": 0.0}
_created_at: dict[str, float] = {}  # ARN -> time.monotonic() of creation
_lock = threading.Lock()
CSP_MAX = 1783  # CloudFront: TooLongCSPInResponseHeadersPolicy beyond this


def set_unavailable_window(seconds: float) -> None:
    """Turn the after-create window on (seconds > 0) or off (0) for this process."""
    _unavailable["seconds"] = seconds


def apply_moto_fixes() -> Callable[[], None]:
    """Patch moto in this process; returns a function that undoes every patch."""
    undos = [_keep_s3_origin_oac(), _add_response_headers_policies(), _add_unavailable_window()]

    def undo() -> None:
        for step in reversed(undos):
            step()

    return undo


def _keep_s3_origin_oac() -> Callable[[], None]:
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


# --- CloudFront response headers policies ---------------------------------------------------


def _policies(backend: Any) -> dict[str, dict[str, Any]]:
    # Kept on the backend, so moto's reset between tests clears them with everything else.
    return backend.__dict__.setdefault("gatehouse_response_headers_policies", {})


def _cloudfront_error(code: str, message: str) -> Exception:
    from moto.cloudfront.exceptions import CloudFrontException

    return CloudFrontException(code, message)


def _policy_ids_in(config: dict[str, Any]) -> set[str]:
    behaviours = [config.get("DefaultCacheBehavior") or {}]
    items = (config.get("CacheBehaviors") or {}).get("Items") or []
    if isinstance(items, dict):  # moto's parser may keep the XML member wrapper
        items = items.get("CacheBehavior") or []
    if isinstance(items, dict):
        items = [items]
    behaviours += list(items)
    return {b["ResponseHeadersPolicyId"] for b in behaviours if b.get("ResponseHeadersPolicyId")}


def _add_response_headers_policies() -> Callable[[], None]:
    from moto.cloudfront import urls
    from moto.cloudfront.models import CloudFrontBackend
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult

    if getattr(CloudFrontResponse, "_gatehouse_policies", False):
        return lambda: None

    def check_config(config: dict[str, Any]) -> None:
        csp = ((config.get("SecurityHeadersConfig") or {}).get("ContentSecurityPolicy") or {}).get(
            "ContentSecurityPolicy"
        ) or ""
        if len(csp) > CSP_MAX:
            raise _cloudfront_error(
                "TooLongCSPInResponseHeadersPolicy",
                f"The Content-Security-Policy header value is longer than {CSP_MAX} characters.",
            )

    def result(policy: dict[str, Any], **extra: Any) -> ActionResult:
        return ActionResult(
            {
                "ResponseHeadersPolicy": {
                    "Id": policy["Id"],
                    "LastModifiedTime": policy["LastModifiedTime"],
                    "ResponseHeadersPolicyConfig": policy["Config"],
                },
                "ETag": policy["ETag"],
                **extra,
            }
        )

    def find(self: Any) -> dict[str, Any]:
        policy = _policies(self.backend).get(self._get_param("Id"))
        if policy is None:
            raise _cloudfront_error(
                "NoSuchResponseHeadersPolicy", "The response headers policy does not exist."
            )
        return policy

    def check_etag(self: Any, policy: dict[str, Any]) -> None:
        if_match = self.headers.get("If-Match")
        if not if_match:
            raise _cloudfront_error(
                "InvalidIfMatchVersion",
                "The If-Match version is missing or not valid for the resource.",
            )
        if if_match != policy["ETag"]:
            raise _cloudfront_error(
                "PreconditionFailed",
                "The precondition given in one or more of the request "
                "header fields evaluated to false.",
            )

    def create_response_headers_policy(self: Any) -> ActionResult:
        config = self._get_param("ResponseHeadersPolicyConfig", {})
        check_config(config)
        with _lock:
            policies = _policies(self.backend)
            if any(p["Config"]["Name"] == config["Name"] for p in policies.values()):
                raise _cloudfront_error(
                    "ResponseHeadersPolicyAlreadyExists",
                    "A response headers policy with this name already exists.",
                )
            policy_id = str(uuid.uuid4())
            policy = {
                "Id": policy_id,
                "Config": config,
                "ETag": uuid.uuid4().hex[:14].upper(),
                "LastModifiedTime": datetime.now(UTC),
            }
            policies[policy_id] = policy
        location = (
            f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy_id}"
        )
        return result(policy, Location=location)

    def get_response_headers_policy(self: Any) -> ActionResult:
        return result(find(self))

    def get_response_headers_policy_config(self: Any) -> ActionResult:
        policy = find(self)
        return ActionResult(
            {"ResponseHeadersPolicyConfig": policy["Config"], "ETag": policy["ETag"]}
        )

    def list_response_headers_policies(self: Any) -> ActionResult:
        kind = self._get_param("Type")
        items = [
            {
                "Type": "custom",
                "ResponseHeadersPolicy": {
                    "Id": p["Id"],
                    "LastModifiedTime": p["LastModifiedTime"],
                    "ResponseHeadersPolicyConfig": p["Config"],
                },
            }
            for p in _policies(self.backend).values()
            if kind in (None, "", "custom")
        ]
        return ActionResult(
            {"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}}
        )

    def update_response_headers_policy(self: Any) -> ActionResult:
        policy = find(self)
        check_etag(self, policy)
        config = self._get_param("ResponseHeadersPolicyConfig", {})
        check_config(config)
        policy.update(
            Config=config,
            ETag=uuid.uuid4().hex[:14].upper(),
            LastModifiedTime=datetime.now(UTC),
        )
        return result(policy)

    def delete_response_headers_policy(self: Any) -> EmptyResult:
        policy = find(self)
        check_etag(self, policy)
        for dist in self.backend.distributions.values():
            config = dist.distribution_config
            ids = {config.default_cache_behavior.response_headers_policy_id} | {
                b.response_headers_policy_id for b in config.cache_behaviors
            }
            if policy["Id"] in ids:
                raise _cloudfront_error(
                    "ResponseHeadersPolicyInUse",
                    "Cannot delete the response headers policy because it is attached to one "
                    "or more cache behaviors.",
                )
        del _policies(self.backend)[policy["Id"]]
        return EmptyResult()

    methods = {
        f.__name__: f
        for f in (
            create_response_headers_policy,
            get_response_headers_policy,
            get_response_headers_policy_config,
            list_response_headers_policies,
            update_response_headers_policy,
            delete_response_headers_policy,
        )
    }
    for name, method in methods.items():
        setattr(CloudFrontResponse, name, method)
    CloudFrontResponse._gatehouse_policies = True
    routes = {
        "{0}/2020-05-31/response-headers-policy$": CloudFrontResponse.dispatch,
        "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)$": CloudFrontResponse.dispatch,
        "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)/config$": (
            CloudFrontResponse.dispatch
        ),
    }
    urls.url_paths.update(routes)

    # A distribution may only name policies that exist.
    original_create = CloudFrontBackend.create_distribution_with_tags
    original_update = CloudFrontBackend.update_distribution

    def check_refs(backend: Any, config: dict[str, Any]) -> None:
        missing = _policy_ids_in(config or {}) - set(_policies(backend))
        if missing:
            raise _cloudfront_error(
                "NoSuchResponseHeadersPolicy", "The response headers policy does not exist."
            )

    def create_distribution_with_tags(self: Any, distribution_config: Any, tags: Any) -> Any:
        check_refs(self, distribution_config)
        return original_create(self, distribution_config, tags)

    def update_distribution(self: Any, dist_config: Any, _id: str, if_match: bool) -> Any:
        check_refs(self, dist_config)
        return original_update(self, dist_config, _id, if_match)

    CloudFrontBackend.create_distribution_with_tags = create_distribution_with_tags
    CloudFrontBackend.update_distribution = update_distribution

    def undo() -> None:
        for name in methods:
            delattr(CloudFrontResponse, name)
        del CloudFrontResponse._gatehouse_policies
        for route in routes:
            urls.url_paths.pop(route, None)
        CloudFrontBackend.create_distribution_with_tags = original_create
        CloudFrontBackend.update_distribution = original_update

    return undo


# --- WAF and CloudFront: not usable for a moment after creation -----------------------------


def _too_new(arn: str) -> bool:
    created = _created_at.get(arn)
    window = _unavailable["seconds"]
    return bool(window) and created is not None and time.monotonic() - created < window


def _ip_set_arns(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            if key == "IPSetReferenceStatement" and isinstance(value, dict):
                found.append(value.get("ARN", ""))
            else:
                found += _ip_set_arns(value)
        return found
    if isinstance(node, list):
        return [arn for item in node for arn in _ip_set_arns(item)]
    return []


def _add_unavailable_window() -> Callable[[], None]:
    from moto.cloudfront.models import CloudFrontBackend
    from moto.core.exceptions import JsonRESTError
    from moto.wafv2.models import WAFV2Backend

    if getattr(WAFV2Backend, "_gatehouse_window", False):
        return lambda: None
    original_ip_set = WAFV2Backend.create_ip_set
    original_acl = WAFV2Backend.create_web_acl
    original_create = CloudFrontBackend.create_distribution_with_tags
    original_update = CloudFrontBackend.update_distribution

    def create_ip_set(self: Any, *args: Any, **kwargs: Any) -> Any:
        ip_set = original_ip_set(self, *args, **kwargs)
        _created_at[ip_set.arn] = time.monotonic()
        return ip_set

    def create_web_acl(self: Any, *args: Any, **kwargs: Any) -> Any:
        rules = kwargs.get("rules") if "rules" in kwargs else args[6] if len(args) > 6 else []
        if any(_too_new(arn) for arn in _ip_set_arns(rules)):
            raise JsonRESTError(
                "WAFUnavailableEntityException",
                "AWS WAF couldn't retrieve a resource that you specified for this operation. "
                "If you've just created a resource that you're using in this operation, you "
                "might just need to wait a few minutes.",
            )
        acl = original_acl(self, *args, **kwargs)
        _created_at[acl.arn] = time.monotonic()
        return acl

    def check_acl(config: Any) -> None:
        if _too_new((config or {}).get("WebACLId") or ""):
            from moto.cloudfront.exceptions import CloudFrontException

            raise CloudFrontException(
                "InvalidWebACLId", "Web ACL is not accessible by the requester."
            )

    def create_distribution_with_tags(self: Any, distribution_config: Any, tags: Any) -> Any:
        check_acl(distribution_config)
        return original_create(self, distribution_config, tags)

    def update_distribution(self: Any, dist_config: Any, _id: str, if_match: bool) -> Any:
        check_acl(dist_config)
        return original_update(self, dist_config, _id, if_match)

    WAFV2Backend.create_ip_set = create_ip_set
    WAFV2Backend.create_web_acl = create_web_acl
    CloudFrontBackend.create_distribution_with_tags = create_distribution_with_tags
    CloudFrontBackend.update_distribution = update_distribution
    WAFV2Backend._gatehouse_window = True

    def undo() -> None:
        WAFV2Backend.create_ip_set = original_ip_set
        WAFV2Backend.create_web_acl = original_acl
        CloudFrontBackend.create_distribution_with_tags = original_create
        CloudFrontBackend.update_distribution = original_update
        del WAFV2Backend._gatehouse_window
        _created_at.clear()

    return undo
