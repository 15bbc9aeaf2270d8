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

from deploy.aws import STILL_IN_USE, aws_errors, error_code, retry_while, tags_dict
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
    try:
        return tags_dict(
            ctx.clients.s3.get_bucket_tagging(Bucket=ctx.config.frontend_bucket)["TagSet"]
        )
    except ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        with aws_errors(f"Reading tags of bucket {ctx.config.frontend_bucket}"):
            raise


def _public_access_block(ctx: Context) -> dict[str, bool]:
    try:
        response = ctx.clients.s3.get_public_access_block(Bucket=ctx.config.frontend_bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return dict.fromkeys(PUBLIC_ACCESS_BLOCK, False)
        with aws_errors(f"Reading public access block of {ctx.config.frontend_bucket}"):
            raise
    return response["PublicAccessBlockConfiguration"]


def find_oac(ctx: Context) -> dict[str, Any] | None:
    name = oac_name(ctx.name)
    client = ctx.clients.cloudfront
    kwargs: dict[str, Any] = {}
    with aws_errors("Listing CloudFront origin access controls"):
        while True:
            page = client.list_origin_access_controls(**kwargs)["OriginAccessControlList"]
            for item in page.get("Items") or []:
                if item["Name"] == name:
                    return item
            if not page.get("IsTruncated"):
                return None
            kwargs["Marker"] = page["NextMarker"]


def plan_bucket(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    bucket = ctx.config.frontend_bucket
    s3 = ctx.clients.s3
    with aws_errors(f"Reading bucket {bucket}"):
        exists = _bucket_exists(ctx)
    if not exists:

        def create() -> None:
            with aws_errors(f"Creating bucket {bucket}"):
                kwargs: dict[str, Any] = {"Bucket": bucket}
                if ctx.config.region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.config.region}
                s3.create_bucket(**kwargs)
                s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
                )
                s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": ctx.tags()})

        changes.append(
            Change(
                "create",
                "s3 bucket",
                bucket,
                create,
                [
                    FieldChange("region", None, ctx.config.region),
                    FieldChange("public_access_block", None, PUBLIC_ACCESS_BLOCK),
                ],
            )
        )
    else:
        # deploy/ownership.py refused it already unless --adopt, which tags it first.
        if not ctx.is_ours(_bucket_tags(ctx)) and not ctx.adopt:
            raise DeployError(
                f"{ctx.config.path}: key 'frontend.bucket': bucket {bucket!r} exists but is not "
                f"tagged gatehouse:edge={ctx.name}, so it is not this edge's. Choose another "
                "bucket name, or tag the bucket if it really belongs to this edge."
            )
        with aws_errors(f"Reading bucket {bucket}"):
            field_changes = diff(
                {"public_access_block": _public_access_block(ctx)},
                {"public_access_block": PUBLIC_ACCESS_BLOCK},
            )
        if field_changes:

            def update() -> None:
                with aws_errors(f"Blocking public access to bucket {bucket}"):
                    s3.put_public_access_block(
                        Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
                    )

            changes.append(Change("update", "s3 bucket", bucket, update, field_changes))

    name = oac_name(ctx.name)
    oac = find_oac(ctx)
    if oac is None:
        ctx.state["oac_id"] = UNKNOWN

        def create_oac() -> None:
            with aws_errors(f"Creating origin access control {name}"):
                response = ctx.clients.cloudfront.create_origin_access_control(
                    OriginAccessControlConfig={
                        "Name": name,
                        "Description": f"Gatehouse {ctx.name}: CloudFront reads the bucket",
                        **OAC_SETTINGS,
                    }
                )
            ctx.state["oac_id"] = response["OriginAccessControl"]["Id"]

        changes.append(
            Change(
                "create",
                "cloudfront origin access control",
                name,
                create_oac,
                [FieldChange(k, None, v) for k, v in OAC_SETTINGS.items()],
            )
        )
    else:
        ctx.state["oac_id"] = oac["Id"]
        actual = {k: oac.get(k) for k in OAC_SETTINGS}
        field_changes = diff(actual, OAC_SETTINGS)
        if field_changes:

            def update_oac() -> None:
                with aws_errors(f"Updating origin access control {name}"):
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

            changes.append(
                Change(
                    "update", "cloudfront origin access control", name, update_oac, field_changes
                )
            )
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
    try:
        text = ctx.clients.s3.get_bucket_policy(Bucket=ctx.config.frontend_bucket)["Policy"]
    except ClientError as exc:
        if error_code(exc) in ("NoSuchBucketPolicy", "NoSuchBucket"):
            return None
        with aws_errors(f"Reading the policy of bucket {ctx.config.frontend_bucket}"):
            raise
    return json.loads(text)


def plan_policy(ctx: Context) -> list[Change]:
    bucket = ctx.config.frontend_bucket
    current = _current_policy(ctx)
    desired = desired_policy(ctx)
    if current == desired:
        return []

    def put() -> None:
        with aws_errors(f"Setting the policy of bucket {bucket}"):
            ctx.clients.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(desired_policy(ctx)))

    action = "create" if current is None else "update"
    return [
        Change(
            action,
            "s3 bucket policy",
            bucket,
            put,
            [FieldChange("policy", current, desired)],
        )
    ]


def plan_destroy_bucket(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    bucket = ctx.config.frontend_bucket
    with aws_errors(f"Reading bucket {bucket}"):
        exists = _bucket_exists(ctx)
    if exists and ctx.is_ours(_bucket_tags(ctx)):

        def delete() -> None:
            s3 = ctx.clients.s3
            with aws_errors(f"Emptying and deleting bucket {bucket}"):
                paginator = s3.get_paginator("list_object_versions")
                for page in paginator.paginate(Bucket=bucket):
                    objects = [
                        {"Key": o["Key"], "VersionId": o["VersionId"]}
                        for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
                    ]
                    if objects:
                        s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                s3.delete_bucket(Bucket=bucket)

        changes.append(Change("delete", "s3 bucket", bucket, delete, note="with its objects"))
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

        changes.append(
            Change("delete", "cloudfront origin access control", oac["Name"], delete_oac)
        )
    return changes
