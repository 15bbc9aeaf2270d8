"""The frontend bucket: private, public access block on, Origin Access Control, and a
bucket policy that lets only this edge's distribution (`AWS:SourceArn`) read objects.

Two stages because of a dependency cycle: the distribution needs the OAC, and the bucket
policy needs the distribution's ARN. `plan_bucket` runs before CloudFront,
`plan_policy` after it.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import (
    STILL_IN_USE,
    aws_errors,
    error_code,
    pages,
    read_or_none,
    retry_while,
    tags_dict,
)
from deploy.context import Context
from deploy.errors import DeployError
from deploy.plan import UNKNOWN, Change, FieldChange, diff

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
OAC_SETTINGS = {
    "SigningProtocol": "sigv4",
    "SigningBehavior": "always",
    "OriginAccessControlOriginType": "s3",
}


def oac_name(edge_name: str) -> str:
    return f"{edge_name}-frontend"


def bucket_domain(ctx: Context) -> str:
    return f"{ctx.config.frontend_bucket}.s3.{ctx.config.region}.amazonaws.com"


def _bucket_exists(ctx: Context) -> bool:
    return ctx.read_once("bucket_exists", _head_bucket)


def _head_bucket(ctx: Context) -> bool:
    bucket = ctx.config.frontend_bucket
    try:
        ctx.clients.s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if error_code(exc) in ("403", "AccessDenied"):
            raise DeployError(
                f"{ctx.config.path}: key 'frontend.bucket': bucket {bucket!r} exists and "
                "belongs to another account (or you may not read it). S3 bucket names are "
                "global: choose another name."
            ) from exc
        with aws_errors(f"Reading bucket {bucket}"):
            raise
    return True


def _bucket_tags(ctx: Context) -> dict[str, str]:
    return ctx.read_once("bucket_tags", _read_bucket_tags)


def _read_bucket_tags(ctx: Context) -> dict[str, str]:
    bucket = ctx.config.frontend_bucket
    response = read_or_none(
        lambda: ctx.clients.s3.get_bucket_tagging(Bucket=bucket),
        "NoSuchTagSet",
        action=f"Reading tags of bucket {bucket}",
    )
    return tags_dict(response["TagSet"] if response else None)


def _public_access_block(ctx: Context) -> dict[str, bool]:
    bucket = ctx.config.frontend_bucket
    response = read_or_none(
        lambda: ctx.clients.s3.get_public_access_block(Bucket=bucket),
        "NoSuchPublicAccessBlockConfiguration",
        action=f"Reading public access block of {bucket}",
    )
    if response is None:
        return dict.fromkeys(PUBLIC_ACCESS_BLOCK, False)
    config: dict[str, bool] = response["PublicAccessBlockConfiguration"]
    return config


def find_oac(ctx: Context) -> dict[str, Any] | None:
    return ctx.read_once("oac", _find_oac)


def _find_oac(ctx: Context) -> dict[str, Any] | None:
    name = oac_name(ctx.name)
    client = ctx.clients.cloudfront
    with aws_errors("Listing CloudFront origin access controls"):
        for item in pages(client, "list_origin_access_controls", "OriginAccessControlList.Items"):
            if item["Name"] == name:
                return item
    return None


def plan_bucket(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    bucket = ctx.config.frontend_bucket
    s3 = ctx.clients.s3
    if not _bucket_exists(ctx):

        def create() -> None:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if ctx.config.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.config.region}
            s3.create_bucket(**kwargs)
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
            )
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": ctx.tags()})

        fields = [
            FieldChange("region", None, ctx.config.region),
            FieldChange("public_access_block", None, PUBLIC_ACCESS_BLOCK),
        ]
        changes.append(Change.create("s3 bucket", bucket, create, fields))
    else:
        # deploy/ownership.py refused it already unless --adopt, which tags it first.
        if not ctx.is_ours(_bucket_tags(ctx)) and not ctx.adopt:
            raise DeployError(
                f"{ctx.config.path}: key 'frontend.bucket': bucket {bucket!r} exists but is not "
                f"tagged gatehouse:edge={ctx.name}, so it is not this edge's. Choose another "
                "bucket name, or tag the bucket if it really belongs to this edge."
            )
        field_changes = diff(
            {"public_access_block": _public_access_block(ctx)},
            {"public_access_block": PUBLIC_ACCESS_BLOCK},
        )
        if field_changes:

            def update() -> None:
                s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
                )

            changes.append(Change.update("s3 bucket", bucket, update, field_changes))

    name = oac_name(ctx.name)
    oac = find_oac(ctx)
    if oac is None:
        ctx.state["oac_id"] = UNKNOWN

        def create_oac() -> None:
            response = ctx.clients.cloudfront.create_origin_access_control(
                OriginAccessControlConfig={
                    "Name": name,
                    "Description": f"Gatehouse {ctx.name}: CloudFront reads the bucket",
                    **OAC_SETTINGS,
                }
            )
            ctx.state["oac_id"] = response["OriginAccessControl"]["Id"]

        fields = [FieldChange(k, None, v) for k, v in OAC_SETTINGS.items()]
        changes.append(Change.create("cloudfront origin access control", name, create_oac, fields))
    else:
        ctx.state["oac_id"] = oac["Id"]
        actual = {k: oac.get(k) for k in OAC_SETTINGS}
        field_changes = diff(actual, OAC_SETTINGS)
        if field_changes:

            def update_oac() -> None:
                current = ctx.clients.cloudfront.get_origin_access_control(Id=oac["Id"])
                ctx.clients.cloudfront.update_origin_access_control(
                    Id=oac["Id"],
                    IfMatch=current["ETag"],
                    OriginAccessControlConfig={
                        "Name": name,
                        "Description": oac.get("Description") or "",
                        **OAC_SETTINGS,
                    },
                )

            kind = "cloudfront origin access control"
            changes.append(Change.update(kind, name, update_oac, field_changes))
    return changes


def desired_policy(ctx: Context) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowCloudFrontOriginAccessControl",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{ctx.config.frontend_bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": ctx.state["distribution_arn"]}},
            }
        ],
    }


def _current_policy(ctx: Context) -> dict[str, Any] | None:
    bucket = ctx.config.frontend_bucket
    response = read_or_none(
        lambda: ctx.clients.s3.get_bucket_policy(Bucket=bucket),
        "NoSuchBucketPolicy",
        "NoSuchBucket",
        action=f"Reading the policy of bucket {bucket}",
    )
    return json.loads(response["Policy"]) if response else None


def plan_policy(ctx: Context) -> list[Change]:
    bucket = ctx.config.frontend_bucket
    current = _current_policy(ctx)
    desired = desired_policy(ctx)
    if current == desired:
        return []

    def put() -> None:
        ctx.clients.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(desired_policy(ctx)))

    make = Change.create if current is None else Change.update
    return [make("s3 bucket policy", bucket, put, [FieldChange("policy", current, desired)])]


def plan_destroy_bucket(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    bucket = ctx.config.frontend_bucket
    if _bucket_exists(ctx) and ctx.is_ours(_bucket_tags(ctx)):

        def delete() -> None:
            s3 = ctx.clients.s3
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                objects = [
                    {"Key": o["Key"], "VersionId": o["VersionId"]}
                    for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if objects:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            s3.delete_bucket(Bucket=bucket)

        changes.append(Change.delete("s3 bucket", bucket, delete, note="with its objects"))
    oac = find_oac(ctx)
    if oac is not None:

        def delete_oac() -> None:
            client = ctx.clients.cloudfront

            def attempt() -> None:
                current = client.get_origin_access_control(Id=oac["Id"])
                client.delete_origin_access_control(Id=oac["Id"], IfMatch=current["ETag"])

            # OriginAccessControlInUse while the distribution's deletion propagates.
            retry_while(
                action=f"Deleting origin access control {oac['Name']}",
                call=attempt,
                codes=STILL_IN_USE,
                out=ctx.out,
                interval=ctx.poll_interval,
            )

        changes.append(Change.delete("cloudfront origin access control", oac["Name"], delete_oac))
    return changes
