"""The CloudFront distribution: S3 origin through OAC for the frontend, `/api/*` to the
ALB origin (https-only, custom header X-Origin-Verify), WAF web ACL attached, aliases with
an ACM certificate from us-east-1, TLSv1.2_2021 minimum; and the response headers policy
`<name>-security-headers` (deploy/headers.py) on both behaviours. The policy cannot be
tagged (CreateResponseHeadersPolicy takes no tags); its name is unique per account.

The whole DistributionConfig is built here; the plan compares a flat summary of the
desired config with the same summary of what `get_distribution_config` returns, and an
update sends the full desired config (with the existing CallerReference and ETag).
"""

from __future__ import annotations

import time
from typing import Any

from accesscontrol.edge import ORIGIN_HEADER
from deploy.aws import (
    NOT_USABLE_YET,
    STILL_IN_USE,
    aws_errors,
    pages,
    retry_while,
    tags_dict,
    wait_until,
)
from deploy.context import Context
from deploy.headers import CONTENT_SECURITY_POLICY, HSTS_MAX_AGE, SECURITY_HEADERS
from deploy.plan import UNKNOWN, Change, FieldChange, diff

# Managed policies (no API lookup: their ids are fixed across accounts).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_AND_CLOUDFRONT_HEADERS = "33f36d7e-f396-46d9-90e0-52428a34d9dc"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
MIN_TLS = "TLSv1.2_2021"
S3_ORIGIN_ID = "frontend-s3"
ALB_ORIGIN_ID = "api-alb"
API_PATH = "/api/*"
SENSITIVE_FIELDS = frozenset({"origin.alb.custom_headers"})


def _items(values: list[Any]) -> dict[str, Any]:
    return {"Quantity": len(values), "Items": list(values)}


def desired_config(ctx: Context, caller_reference: str, *, enabled: bool = True) -> dict[str, Any]:
    config = ctx.config
    secret = ctx.secret.current if ctx.secret else UNKNOWN
    return {
        "CallerReference": caller_reference,
        "Comment": f"Gatehouse edge {ctx.name}",
        "Enabled": enabled,
        "Aliases": _items(sorted(config.app_hostnames)),
        "DefaultRootObject": "index.html",
        "Origins": _items(
            [
                {
                    "Id": S3_ORIGIN_ID,
                    "DomainName": f"{config.frontend_bucket}.s3.{config.region}.amazonaws.com",
                    "OriginPath": "",
                    "CustomHeaders": {"Quantity": 0},
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": ctx.state["oac_id"],
                },
                {
                    "Id": ALB_ORIGIN_ID,
                    "DomainName": config.origin_hostname,
                    "OriginPath": "",
                    "CustomHeaders": _items([{"HeaderName": ORIGIN_HEADER, "HeaderValue": secret}]),
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                        "OriginSslProtocols": _items(["TLSv1.2"]),
                        "OriginReadTimeout": 30,
                        "OriginKeepaliveTimeout": 5,
                    },
                },
            ]
        ),
        "DefaultCacheBehavior": {
            "TargetOriginId": S3_ORIGIN_ID,
            "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": {**_items(["GET", "HEAD"]), "CachedMethods": _items(["GET", "HEAD"])},
            "Compress": True,
            "CachePolicyId": CACHING_OPTIMIZED,
            "ResponseHeadersPolicyId": ctx.state["response_headers_policy_id"],
        },
        "CacheBehaviors": _items(
            [
                {
                    "PathPattern": API_PATH,
                    "TargetOriginId": ALB_ORIGIN_ID,
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "AllowedMethods": {
                        **_items(ALL_METHODS),
                        "CachedMethods": _items(["GET", "HEAD"]),
                    },
                    "Compress": True,
                    "CachePolicyId": CACHING_DISABLED,
                    "OriginRequestPolicyId": ALL_VIEWER_AND_CLOUDFRONT_HEADERS,
                    "ResponseHeadersPolicyId": ctx.state["response_headers_policy_id"],
                }
            ]
        ),
        "ViewerCertificate": {
            "CloudFrontDefaultCertificate": False,
            "ACMCertificateArn": config.app_certificate_arn,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": MIN_TLS,
        },
        "WebACLId": ctx.state["web_acl_arn"],
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
        "PriceClass": "PriceClass_All",
    }


# The managed policies we use, by id: the plan shows their names (with the id), not bare
# UUIDs. An id not listed here (someone chose another policy) is shown as it is.
MANAGED_POLICY_NAMES = {
    CACHING_OPTIMIZED: "Managed-CachingOptimized",
    CACHING_DISABLED: "Managed-CachingDisabled",
    ALL_VIEWER_AND_CLOUDFRONT_HEADERS: "Managed-AllViewerAndCloudFrontHeaders-2022-06",
}


def _policy(policy_id: str | None) -> str | None:
    if not policy_id:
        return None
    name = MANAGED_POLICY_NAMES.get(policy_id)
    return f"{name} ({policy_id})" if name else policy_id


def _behaviour(b: dict[str, Any]) -> dict[str, Any]:
    methods = b.get("AllowedMethods") or {}
    return {
        "target": b.get("TargetOriginId"),
        "viewer_protocol_policy": b.get("ViewerProtocolPolicy"),
        "allowed_methods": sorted(methods.get("Items") or []),
        "cached_methods": sorted((methods.get("CachedMethods") or {}).get("Items") or []),
        "cache_policy": _policy(b.get("CachePolicyId")),
        "origin_request_policy": _policy(b.get("OriginRequestPolicyId")),
        "response_headers_policy": b.get("ResponseHeadersPolicyId") or None,
    }


def summarize(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings that matter, flat and comparable; the same function reads desired and
    actual configs, so a difference is a real difference."""
    origins = {o["Id"]: o for o in (cfg.get("Origins") or {}).get("Items") or []}
    s3 = origins.get(S3_ORIGIN_ID, {})
    alb = origins.get(ALB_ORIGIN_ID, {})
    custom = alb.get("CustomOriginConfig") or {}
    headers = {
        h["HeaderName"]: h["HeaderValue"]
        for h in (alb.get("CustomHeaders") or {}).get("Items") or []
    }
    behaviours = (cfg.get("CacheBehaviors") or {}).get("Items") or []
    cert = cfg.get("ViewerCertificate") or {}
    summary = {
        "enabled": cfg.get("Enabled"),
        "aliases": sorted((cfg.get("Aliases") or {}).get("Items") or []),
        "default_root_object": cfg.get("DefaultRootObject") or None,
        "origins": sorted(origins),
        "origin.s3.domain_name": s3.get("DomainName"),
        "origin.s3.origin_access_control_id": s3.get("OriginAccessControlId") or None,
        "origin.s3.origin_access_identity": (s3.get("S3OriginConfig") or {}).get(
            "OriginAccessIdentity"
        ),
        "origin.alb.domain_name": alb.get("DomainName"),
        "origin.alb.protocol_policy": custom.get("OriginProtocolPolicy"),
        "origin.alb.https_port": custom.get("HTTPSPort"),
        "origin.alb.ssl_protocols": sorted(
            (custom.get("OriginSslProtocols") or {}).get("Items") or []
        ),
        "origin.alb.custom_headers": headers,
        "behaviours": [b.get("PathPattern") for b in behaviours],
        "viewer_certificate.acm_certificate_arn": cert.get("ACMCertificateArn") or None,
        "viewer_certificate.ssl_support_method": cert.get("SSLSupportMethod"),
        "viewer_certificate.minimum_protocol_version": cert.get("MinimumProtocolVersion"),
        "web_acl_id": cfg.get("WebACLId") or None,
        "http_version": cfg.get("HttpVersion"),
        "ipv6": cfg.get("IsIPV6Enabled"),
    }
    # One line per behaviour setting, so a plan shows exactly which one drifted.
    api: dict[str, Any] = next((b for b in behaviours if b.get("PathPattern") == API_PATH), {})
    for prefix, behaviour in (
        ("default_behaviour", cfg.get("DefaultCacheBehavior") or {}),
        (f"behaviour.{API_PATH}", api),
    ):
        for key, value in _behaviour(behaviour).items():
            summary[f"{prefix}.{key}"] = value
    return summary


def list_distributions(ctx: Context) -> list[dict[str, Any]]:
    """Every distribution of the account (summaries): listed once until the next write."""
    return ctx.read_once("distributions", _list_distributions)


def _list_distributions(ctx: Context) -> list[dict[str, Any]]:
    with aws_errors("Listing CloudFront distributions"):
        return list(pages(ctx.clients.cloudfront, "list_distributions", "DistributionList.Items"))


def find_distribution(ctx: Context) -> dict[str, Any] | None:
    """The distribution tagged gatehouse:edge=<name> (summary from the list), or None:
    found once until the next write."""
    return ctx.read_once("distribution", _find_distribution)


def _find_distribution(ctx: Context) -> dict[str, Any] | None:
    client = ctx.clients.cloudfront
    for item in list_distributions(ctx):
        with aws_errors("Listing CloudFront distributions"):
            tags = client.list_tags_for_resource(Resource=item["ARN"])["Tags"].get("Items")
        if ctx.is_ours(tags_dict(tags)):
            return item
    return None


def get_config(ctx: Context, distribution_id: str) -> tuple[dict[str, Any], str]:
    with aws_errors("Reading the distribution config"):
        response = ctx.clients.cloudfront.get_distribution_config(Id=distribution_id)
    return response["DistributionConfig"], response["ETag"]


def wait_deployed(ctx: Context, distribution_id: str) -> None:
    def poll() -> tuple[bool, str]:
        with aws_errors("Reading the distribution"):
            status = ctx.clients.cloudfront.get_distribution(Id=distribution_id)["Distribution"][
                "Status"
            ]
        return status == "Deployed", status

    wait_until(
        label=f"CloudFront {distribution_id}",
        poll=poll,
        out=ctx.out,
        interval=ctx.poll_interval,
        timeout=3600,
    )


def update_distribution(ctx: Context, distribution_id: str, *, enabled: bool = True) -> None:
    current, etag = get_config(ctx, distribution_id)
    body = desired_config(ctx, current["CallerReference"], enabled=enabled)
    # InvalidWebACLId while a web ACL created a moment ago is not visible to CloudFront.
    retry_while(
        action=f"Updating distribution {distribution_id}",
        call=lambda: ctx.clients.cloudfront.update_distribution(
            Id=distribution_id, IfMatch=etag, DistributionConfig=body
        ),
        codes=NOT_USABLE_YET,
        out=ctx.out,
        interval=ctx.poll_interval,
    )
    wait_deployed(ctx, distribution_id)


# --- response headers policy ---------------------------------------------------------------


def response_headers_policy_name(edge_name: str) -> str:
    return f"{edge_name}-security-headers"


def desired_response_headers_policy(ctx: Context) -> dict[str, Any]:
    """The policy config; `policy_headers` of it equals deploy.headers.SECURITY_HEADERS."""
    return {
        "Name": response_headers_policy_name(ctx.name),
        "Comment": f"Gatehouse {ctx.name}: security headers on every response",
        "SecurityHeadersConfig": {
            "ContentSecurityPolicy": {
                "Override": True,
                "ContentSecurityPolicy": CONTENT_SECURITY_POLICY,
            },
            "StrictTransportSecurity": {
                "Override": True,
                "AccessControlMaxAgeSec": HSTS_MAX_AGE,
                "IncludeSubdomains": True,
                "Preload": False,
            },
            "ContentTypeOptions": {"Override": True},
            "ReferrerPolicy": {
                "Override": True,
                "ReferrerPolicy": SECURITY_HEADERS["Referrer-Policy"],
            },
            "FrameOptions": {
                "Override": True,
                "FrameOption": SECURITY_HEADERS["X-Frame-Options"],
            },
        },
    }


def policy_headers(config: dict[str, Any]) -> dict[str, Any]:
    """The headers a policy config makes CloudFront send (and whether it overrides the
    origin's), flat and comparable: the same function reads desired and actual."""
    security = config.get("SecurityHeadersConfig") or {}
    headers: dict[str, Any] = {}
    csp = security.get("ContentSecurityPolicy")
    if csp:
        headers["Content-Security-Policy"] = csp.get("ContentSecurityPolicy")
    hsts = security.get("StrictTransportSecurity")
    if hsts:
        value = f"max-age={hsts.get('AccessControlMaxAgeSec')}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        headers["Strict-Transport-Security"] = value
    if security.get("ContentTypeOptions"):
        headers["X-Content-Type-Options"] = "nosniff"
    referrer = security.get("ReferrerPolicy")
    if referrer:
        headers["Referrer-Policy"] = referrer.get("ReferrerPolicy")
    frame = security.get("FrameOptions")
    if frame:
        headers["X-Frame-Options"] = frame.get("FrameOption")
    overrides = sorted(
        name for name, part in security.items() if isinstance(part, dict) and part.get("Override")
    )
    return {"headers": headers, "override_origin": overrides}


def find_response_headers_policy(ctx: Context) -> dict[str, Any] | None:
    """This edge's custom policy ({"Id", "ResponseHeadersPolicyConfig", ...}), or None."""
    return ctx.read_once("response_headers_policy", _find_response_headers_policy)


def _find_response_headers_policy(ctx: Context) -> dict[str, Any] | None:
    name = response_headers_policy_name(ctx.name)
    with aws_errors("Listing CloudFront response headers policies"):
        for item in pages(
            ctx.clients.cloudfront,
            "list_response_headers_policies",
            "ResponseHeadersPolicyList.Items",
            Type="custom",
        ):
            policy: dict[str, Any] = item["ResponseHeadersPolicy"]
            if policy["ResponseHeadersPolicyConfig"]["Name"] == name:
                return policy
    return None


def plan_response_headers_policy(ctx: Context) -> list[Change]:
    name = response_headers_policy_name(ctx.name)
    desired = desired_response_headers_policy(ctx)
    wanted = policy_headers(desired)
    policy = find_response_headers_policy(ctx)
    client = ctx.clients.cloudfront
    if policy is None:
        ctx.state["response_headers_policy_id"] = UNKNOWN

        def create() -> None:
            response = client.create_response_headers_policy(ResponseHeadersPolicyConfig=desired)
            ctx.state["response_headers_policy_id"] = response["ResponseHeadersPolicy"]["Id"]

        fields = [FieldChange(k, None, v) for k, v in wanted.items()]
        return [Change.create("cloudfront response headers policy", name, create, fields)]
    ctx.state["response_headers_policy_id"] = policy["Id"]
    field_changes = diff(policy_headers(policy["ResponseHeadersPolicyConfig"]), wanted)
    if not field_changes:
        return []

    def update() -> None:
        etag = client.get_response_headers_policy(Id=policy["Id"])["ETag"]
        client.update_response_headers_policy(
            Id=policy["Id"], IfMatch=etag, ResponseHeadersPolicyConfig=desired
        )

    return [Change.update("cloudfront response headers policy", name, update, field_changes)]


def plan(ctx: Context) -> list[Change]:
    changes = plan_response_headers_policy(ctx)
    return changes + _plan_distribution(ctx)


def _plan_distribution(ctx: Context) -> list[Change]:
    dist = find_distribution(ctx)
    label = f"{ctx.name} ({', '.join(ctx.config.app_hostnames)})"
    if dist is None:
        ctx.state["distribution_arn"] = UNKNOWN
        ctx.state["distribution_domain"] = UNKNOWN
        desired = summarize(desired_config(ctx, "new"))

        def create() -> None:
            reference = f"gatehouse-{ctx.name}-{int(time.time())}"
            body = desired_config(ctx, reference)
            # InvalidWebACLId while the web ACL created a moment ago is not visible yet.
            response = retry_while(
                action="Creating the CloudFront distribution",
                call=lambda: ctx.clients.cloudfront.create_distribution_with_tags(
                    DistributionConfigWithTags={
                        "DistributionConfig": body,
                        "Tags": {"Items": ctx.tags()},
                    }
                ),
                codes=NOT_USABLE_YET,
                out=ctx.out,
                interval=ctx.poll_interval,
            )
            created = response["Distribution"]
            ctx.state["distribution_id"] = created["Id"]
            ctx.state["distribution_arn"] = created["ARN"]
            ctx.state["distribution_domain"] = created["DomainName"]
            wait_deployed(ctx, created["Id"])

        fields = [FieldChange(k, None, v, k in SENSITIVE_FIELDS) for k, v in desired.items()]
        return [Change.create("cloudfront distribution", label, create, fields)]
    ctx.state["distribution_id"] = dist["Id"]
    ctx.state["distribution_arn"] = dist["ARN"]
    ctx.state["distribution_domain"] = dist["DomainName"]
    current, _ = get_config(ctx, dist["Id"])
    field_changes = diff(
        summarize(current), summarize(desired_config(ctx, "x")), sensitive=SENSITIVE_FIELDS
    )
    if not field_changes:
        return []

    def update() -> None:
        update_distribution(ctx, dist["Id"])

    return [Change.update("cloudfront distribution", label, update, field_changes, note=dist["Id"])]


def plan_destroy(ctx: Context) -> list[Change]:
    return _plan_destroy_distribution(ctx) + _plan_destroy_response_headers_policy(ctx)


def _plan_destroy_response_headers_policy(ctx: Context) -> list[Change]:
    policy = find_response_headers_policy(ctx)
    if policy is None:
        return []
    name = response_headers_policy_name(ctx.name)

    def delete() -> None:
        client = ctx.clients.cloudfront

        def attempt() -> None:
            etag = client.get_response_headers_policy(Id=policy["Id"])["ETag"]
            client.delete_response_headers_policy(Id=policy["Id"], IfMatch=etag)

        # ResponseHeadersPolicyInUse while the distribution's deletion propagates.
        retry_while(
            action=f"Deleting response headers policy {name}",
            call=attempt,
            codes=STILL_IN_USE,
            out=ctx.out,
            interval=ctx.poll_interval,
        )

    note = "after the distribution that uses it"
    return [Change.delete("cloudfront response headers policy", name, delete, note=note)]


def _plan_destroy_distribution(ctx: Context) -> list[Change]:
    dist = find_distribution(ctx)
    if dist is None:
        return []

    def delete() -> None:
        client = ctx.clients.cloudfront
        current, etag = get_config(ctx, dist["Id"])
        if current.get("Enabled"):
            ctx.out("    disabling the distribution first (CloudFront deletes only disabled ones)")
            client.update_distribution(
                Id=dist["Id"], IfMatch=etag, DistributionConfig={**current, "Enabled": False}
            )
            wait_deployed(ctx, dist["Id"])
            _, etag = get_config(ctx, dist["Id"])
        client.delete_distribution(Id=dist["Id"], IfMatch=etag)

    label = f"{ctx.name} ({dist['DomainName']})"
    return [Change.delete("cloudfront distribution", label, delete, note="disabled, then deleted")]
