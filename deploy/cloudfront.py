"""The CloudFront distribution: S3 origin through OAC for the frontend, `/api/*` to the
ALB origin (https-only, custom header X-Origin-Verify), WAF web ACL attached, aliases with
an ACM certificate from us-east-1, TLSv1.2_2021 minimum.

The whole DistributionConfig is built here; the plan compares a flat summary of the
desired config with the same summary of what `get_distribution_config` returns, and an
update sends the full desired config (with the existing CallerReference and ETag).
"""

from __future__ import annotations

import time
from typing import Any

from deploy.aws import aws_errors, tags_dict, wait_until
from deploy.context import ORIGIN_HEADER, Context
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
    api = next((b for b in behaviours if b.get("PathPattern") == API_PATH), {})
    for prefix, behaviour in (
        ("default_behaviour", cfg.get("DefaultCacheBehavior") or {}),
        (f"behaviour.{API_PATH}", api),
    ):
        for key, value in _behaviour(behaviour).items():
            summary[f"{prefix}.{key}"] = value
    return summary


def find_distribution(ctx: Context) -> dict[str, Any] | None:
    """The distribution tagged gatehouse:edge=<name> (summary from the list), or None."""
    client = ctx.clients.cloudfront
    kwargs: dict[str, Any] = {}
    with aws_errors("Listing CloudFront distributions"):
        while True:
            page = client.list_distributions(**kwargs)["DistributionList"]
            for item in page.get("Items") or []:
                tags = client.list_tags_for_resource(Resource=item["ARN"])["Tags"].get("Items")
                if ctx.is_ours(tags_dict(tags)):
                    return item
            if not page.get("IsTruncated"):
                return None
            kwargs["Marker"] = page["NextMarker"]


def get_config(ctx: Context, distribution_id: str) -> tuple[dict[str, Any], str]:
    with aws_errors("Reading the distribution config"):
        response = ctx.clients.cloudfront.get_distribution_config(Id=distribution_id)
    return response["DistributionConfig"], response["ETag"]


def read_origin_secret(ctx: Context) -> str | None:
    dist = find_distribution(ctx)
    if dist is None:
        return None
    config, _ = get_config(ctx, dist["Id"])
    for origin in config["Origins"].get("Items") or []:
        for header in (origin.get("CustomHeaders") or {}).get("Items") or []:
            if header["HeaderName"].lower() == ORIGIN_HEADER.lower():
                return header["HeaderValue"]
    return None


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
    with aws_errors(f"Updating distribution {distribution_id}"):
        ctx.clients.cloudfront.update_distribution(
            Id=distribution_id, IfMatch=etag, DistributionConfig=body
        )
    wait_deployed(ctx, distribution_id)


def plan(ctx: Context) -> list[Change]:
    from deploy.alb import check_certificate  # one certificate check for both sides

    check_certificate(
        ctx,
        key="app.certificate_arn",
        arn=ctx.config.app_certificate_arn,
        region="us-east-1",
        hosts=list(ctx.config.app_hostnames),
    )
    dist = find_distribution(ctx)
    label = f"{ctx.name} ({', '.join(ctx.config.app_hostnames)})"
    if dist is None:
        ctx.state["distribution_arn"] = UNKNOWN
        ctx.state["distribution_domain"] = UNKNOWN
        desired = summarize(desired_config(ctx, "new"))

        def create() -> None:
            reference = f"gatehouse-{ctx.name}-{int(time.time())}"
            with aws_errors("Creating the CloudFront distribution"):
                response = ctx.clients.cloudfront.create_distribution_with_tags(
                    DistributionConfigWithTags={
                        "DistributionConfig": desired_config(ctx, reference),
                        "Tags": {"Items": ctx.tags()},
                    }
                )
            created = response["Distribution"]
            ctx.state["distribution_id"] = created["Id"]
            ctx.state["distribution_arn"] = created["ARN"]
            ctx.state["distribution_domain"] = created["DomainName"]
            wait_deployed(ctx, created["Id"])

        return [
            Change(
                "create",
                "cloudfront distribution",
                label,
                create,
                [FieldChange(k, None, v, k in SENSITIVE_FIELDS) for k, v in desired.items()],
            )
        ]
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

    return [
        Change("update", "cloudfront distribution", label, update, field_changes, note=dist["Id"])
    ]


def plan_destroy(ctx: Context) -> list[Change]:
    dist = find_distribution(ctx)
    if dist is None:
        return []

    def delete() -> None:
        client = ctx.clients.cloudfront
        current, etag = get_config(ctx, dist["Id"])
        if current.get("Enabled"):
            ctx.out("    disabling the distribution first (CloudFront deletes only disabled ones)")
            with aws_errors("Disabling the distribution"):
                client.update_distribution(
                    Id=dist["Id"], IfMatch=etag, DistributionConfig={**current, "Enabled": False}
                )
            wait_deployed(ctx, dist["Id"])
            _, etag = get_config(ctx, dist["Id"])
        with aws_errors("Deleting the distribution"):
            client.delete_distribution(Id=dist["Id"], IfMatch=etag)

    return [
        Change(
            "delete",
            "cloudfront distribution",
            f"{ctx.name} ({dist['DomainName']})",
            delete,
            note="disabled, then deleted",
        )
    ]
