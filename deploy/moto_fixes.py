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

import contextlib
import copy
import functools
import inspect
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
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
    undos = [
        _keep_s3_origin_oac(),
        _limit_elb_describe_tags(),
        _add_response_headers_policies(),
        _add_unavailable_window(),
    ]

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
    policies: dict[str, dict[str, Any]] = backend.__dict__.setdefault(
        "gatehouse_response_headers_policies", {}
    )
    return policies


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
# - Sampled requests: moto 5.2.5 has no GetSampledRequests at all (it raises
#   NotImplementedError). `get_sampled_requests` answers from samples the fake was given
#   with `record_sampled_request` (the local edge records each request it judges under
#   the metric name of what decided it, as WAF samples when the visibility config says
#   SampledRequestsEnabled). As documented: only the previous three hours (an earlier
#   StartTime is moved up to three hours ago), from among the first 5,000 requests of
#   the window (TimeWindow then ends at the 5,000th), at most MaxItems (1-500) of them,
#   PopulationSize the number the sample was drawn from. Kept per web ACL and metric:
#   the newest WAF_SAMPLES_KEPT, none older than three hours (bounded memory).

WAF_MAX_ADDRESSES_PER_IP_SET = 10_000
WAF_MAX_RESPONSE_BODY_BYTES = 4 * 1024
WAF_MAX_RESPONSE_BODIES_BYTES = 50 * 1024
WAF_MAX_RESPONSE_BODIES = 50
WAF_LIMITS_MESSAGE = (
    "AWS WAF couldn't perform the operation because you exceeded your resource limit."
)

WAF_SAMPLE_WINDOW_SECONDS = 3 * 3600
WAF_SAMPLE_POPULATION = 5_000
WAF_SAMPLE_MAX_ITEMS = 500
WAF_SAMPLES_KEPT = 5_000  # per web ACL and metric name

_waf_lock = threading.RLock()
# (class, attribute) -> moto's own function (None: moto has none), while the WAF fixes
# are applied.
_waf_originals: dict[tuple[type, str], Callable[..., Any] | None] = {}


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


def _waf_error(code: str, message: str) -> Exception:
    from moto.wafv2.exceptions import WAFv2ClientError

    return WAFv2ClientError(code, message)


def _samples_of(backend: Any) -> dict[tuple[str, str], deque[dict[str, Any]]]:
    """The samples a moto WAFV2 backend holds, by (web ACL ARN, metric name); they live
    and die with the backend (a new mock_aws starts empty)."""
    samples: dict[tuple[str, str], deque[dict[str, Any]]] = backend.__dict__.setdefault(
        "_gatehouse_samples", {}
    )
    return samples


def _backend_for(web_acl_arn: str) -> Any:
    """The moto WAFV2 backend that holds the web ACL `web_acl_arn` (None: no such ACL)."""
    from moto.wafv2.models import GLOBAL_REGION, wafv2_backends

    parts = web_acl_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "wafv2":
        return None
    region = GLOBAL_REGION if parts[5].startswith("global/") else parts[3]
    backend = wafv2_backends[parts[4]][region]
    return backend if web_acl_arn in backend.wacls else None


def record_sampled_request(*, web_acl_arn: str, metric_name: str, sample: dict[str, Any]) -> bool:
    """Keep one SampledHTTPRequest (the API's shape: Request, Weight, Timestamp as epoch
    seconds, Action, ...) for `get_sampled_requests`, if the web ACL exists. The caller
    decides whether sampling is enabled (the visibility config of the rule or web ACL).
    Returns whether it was kept."""
    with _waf_lock:
        backend = _backend_for(web_acl_arn)
        if backend is None:
            return False
        kept = _samples_of(backend).setdefault(
            (web_acl_arn, metric_name), deque(maxlen=WAF_SAMPLES_KEPT)
        )
        kept.append(copy.deepcopy(sample))
        oldest = time.time() - WAF_SAMPLE_WINDOW_SECONDS
        while kept and kept[0]["Timestamp"] < oldest:
            kept.popleft()
        return True


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _sampled_requests(
    backend: Any, *, web_acl_arn: str, metric_name: str, window: dict[str, Any], max_items: Any
) -> dict[str, Any]:
    if web_acl_arn not in backend.wacls:
        from moto.wafv2.exceptions import WAFNonexistentItemException

        raise WAFNonexistentItemException
    if not isinstance(max_items, int) or not 1 <= max_items <= WAF_SAMPLE_MAX_ITEMS:
        raise _waf_error(
            "WAFInvalidParameterException",
            f"MaxItems must be from 1 to {WAF_SAMPLE_MAX_ITEMS}.",
        )
    now = time.time()
    start = max(_epoch(window["StartTime"]), now - WAF_SAMPLE_WINDOW_SECONDS)
    end = min(_epoch(window["EndTime"]), now)
    if end <= start:
        raise _waf_error(
            "WAFInvalidParameterException",
            "TimeWindow must end after it starts, within the previous three hours.",
        )
    with _waf_lock:
        kept = list(_samples_of(backend).get((web_acl_arn, metric_name), ()))
    population = sorted(
        (s for s in kept if start <= s["Timestamp"] <= end), key=lambda s: s["Timestamp"]
    )[:WAF_SAMPLE_POPULATION]
    if len(population) == WAF_SAMPLE_POPULATION:
        end = population[-1]["Timestamp"]  # the window of the first 5,000
    if len(population) > max_items:
        # A spread over the whole window, like WAF's random pick (deterministic here).
        step = len(population) / max_items
        sample = [population[int(i * step)] for i in range(max_items)]
    else:
        sample = population
    return {
        "SampledRequests": sample,
        "PopulationSize": len(population),
        "TimeWindow": {"StartTime": start, "EndTime": end},
    }


WAF_LOG_PREFIX = "aws-waf-logs-"


def _waf_invalid(message: str) -> Exception:
    return _waf_error("WAFInvalidParameterException", message)


def _check_log_destinations(destinations: list[str] | None) -> None:
    """WAF's logging destinations (PutLoggingConfiguration): a CloudWatch Logs group ARN
    without the ":*" suffix DescribeLogGroups' `arn` carries, named `aws-waf-logs-...`
    (the LoggingConfiguration API reference: "The name that you give the destination must
    start with aws-waf-logs-")."""
    for destination in destinations or []:
        if ":log-group:" not in destination:
            continue
        if destination.endswith(":*"):
            raise _waf_invalid(
                f"Log destination {destination}: use the log group's ARN without ':*'."
            )
        name = destination.split(":log-group:", 1)[1]
        if not name.startswith(WAF_LOG_PREFIX):
            raise _waf_invalid(
                f"Log destination {destination}: the name must start with {WAF_LOG_PREFIX}."
            )


def _check_retention(days: Any) -> None:
    """CloudWatch Logs' PutRetentionPolicy takes only the documented day counts."""
    from moto.logs.exceptions import InvalidParameterException

    from deploy.config import LOG_RETENTION_DAYS

    if int(days) not in LOG_RETENTION_DAYS:
        raise InvalidParameterException(
            msg=f"Invalid retentionInDays value {days}: use one of {list(LOG_RETENTION_DAYS)}."
        )


def _web_acl_exists(arn: str) -> bool:
    """moto keeps CLOUDFRONT-scope web ACLs in its "global" backend, but answers
    PutLoggingConfiguration (which has no Scope) from the request's region."""
    from moto.wafv2.models import wafv2_backends

    parts = arn.split(":")
    if len(parts) < 6:
        return False
    region = "global" if parts[5].startswith("global/") else parts[3]
    return arn in wafv2_backends[parts[4]][region].wacls


def apply_waf_fixes() -> Callable[[], None]:
    """Patch moto's WAFV2 in this process; returns a function that undoes the patch.

    Also WAF logging's behaviour moto lacks: PutLoggingConfiguration refuses a web ACL
    that does not exist (WAFNonexistentItemException) and a destination WAF would not
    take (`_check_log_destinations`); CloudWatch Logs' PutRetentionPolicy refuses a day
    count outside its list (`_check_retention`)."""
    from moto.logs.models import LogsBackend
    from moto.moto_api._internal import mock_random
    from moto.wafv2.exceptions import WAFNonexistentItemException
    from moto.wafv2.models import GLOBAL_REGION, FakeIPSet, WAFV2Backend
    from moto.wafv2.responses import WAFV2Response

    if _waf_originals:
        return lambda: None
    originals: dict[tuple[type, str], Callable[..., Any] | None] = {
        (FakeIPSet, "__init__"): FakeIPSet.__init__,
        (FakeIPSet, "update"): FakeIPSet.update,
        (WAFV2Backend, "create_ip_set"): WAFV2Backend.create_ip_set,
        (WAFV2Backend, "update_ip_set"): WAFV2Backend.update_ip_set,
        (WAFV2Backend, "get_ip_set"): WAFV2Backend.get_ip_set,
        (WAFV2Backend, "delete_ip_set"): WAFV2Backend.delete_ip_set,
        (WAFV2Backend, "create_web_acl"): WAFV2Backend.create_web_acl,
        (WAFV2Backend, "update_web_acl"): WAFV2Backend.update_web_acl,
        (WAFV2Backend, "delete_web_acl"): WAFV2Backend.delete_web_acl,
        (WAFV2Response, "get_sampled_requests"): getattr(
            WAFV2Response, "get_sampled_requests", None
        ),
        (WAFV2Backend, "put_logging_configuration"): WAFV2Backend.put_logging_configuration,
        (LogsBackend, "put_retention_policy"): LogsBackend.put_retention_policy,
    }

    def original(cls: type, name: str) -> Callable[..., Any]:
        function = originals[(cls, name)]
        assert function is not None, (cls, name)
        return function

    def bound(
        cls: type, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
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

    def get_sampled_requests(self: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(self.body)
        if body.get("Scope") == "CLOUDFRONT":
            self.region = GLOBAL_REGION
        answer = _sampled_requests(
            self.wafv2_backend,
            web_acl_arn=body["WebAclArn"],
            metric_name=body["RuleMetricName"],
            window=body["TimeWindow"],
            max_items=body["MaxItems"],
        )
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def put_logging_configuration(*args: Any, **kwargs: Any) -> Any:
        arguments = bound(WAFV2Backend, "put_logging_configuration", args, kwargs)
        if not _web_acl_exists(arguments["arn"]):
            raise WAFNonexistentItemException()
        _check_log_destinations(arguments.get("log_destination_configs"))
        return original(WAFV2Backend, "put_logging_configuration")(*args, **kwargs)

    def put_retention_policy(*args: Any, **kwargs: Any) -> Any:
        _check_retention(
            bound(LogsBackend, "put_retention_policy", args, kwargs)["retention_in_days"]
        )
        return original(LogsBackend, "put_retention_policy")(*args, **kwargs)

    replacements: dict[tuple[type, str], Callable[..., Any]] = {
        (FakeIPSet, "__init__"): ip_set_init,
        (FakeIPSet, "update"): ip_set_update,
        (WAFV2Backend, "create_ip_set"): create_ip_set,
        (WAFV2Backend, "update_ip_set"): update_ip_set,
        (WAFV2Backend, "get_ip_set"): get_ip_set,
        (WAFV2Backend, "delete_ip_set"): delete_ip_set,
        (WAFV2Backend, "create_web_acl"): create_web_acl,
        (WAFV2Backend, "update_web_acl"): update_web_acl,
        (WAFV2Backend, "delete_web_acl"): delete_web_acl,
        (WAFV2Response, "get_sampled_requests"): get_sampled_requests,
        (WAFV2Backend, "put_logging_configuration"): put_logging_configuration,
        (LogsBackend, "put_retention_policy"): put_retention_policy,
    }
    for (cls, name), replacement in replacements.items():
        wrapped = originals[(cls, name)]
        if wrapped is not None:
            functools.update_wrapper(replacement, wrapped)
        setattr(cls, name, replacement)
    _waf_originals.update(originals)

    def undo() -> None:
        for (cls, name), function in originals.items():
            _restore(cls, name, function)
        _waf_originals.clear()

    return undo


@contextlib.contextmanager
def without_waf_fixes() -> Iterator[None]:
    """moto as released, for a while (the canaries prove it still lacks each fix)."""
    patched = {key: getattr(*key) for key in _waf_originals}
    for (cls, name), function in _waf_originals.items():
        _restore(cls, name, function)
    try:
        yield
    finally:
        for (cls, name), function in patched.items():
            setattr(cls, name, function)


def _restore(cls: type, name: str, function: Callable[..., Any] | None) -> None:
    """Put moto's own attribute back (None: moto had none, so remove ours)."""
    if function is None:
        if name in vars(cls):
            delattr(cls, name)
    else:
        setattr(cls, name, function)
