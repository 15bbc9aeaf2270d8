"""Publish the static console (frontend/) to the edge's bucket.

Uploads files whose content changed (compared by MD5 with the object's ETag: single-part
uploads), with a Content-Type and a Cache-Control: index.html `no-cache` (always
revalidate, so a new release shows at once), other files a short max-age (no build step,
so names carry no content hash). Deletes objects that no longer exist locally, then
invalidates the distribution's cache when anything changed.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy import cloudfront
from deploy.aws import aws_errors
from deploy.context import Context
from deploy.errors import DeployError

NO_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}


@dataclass
class PublishReport:
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    invalidation_id: str | None = None


def content_type(path: Path) -> str:
    return (
        TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def cache_control(key: str) -> str:
    return NO_CACHE if key.endswith(".html") else ASSET_CACHE


def local_files(source: Path) -> dict[str, Path]:
    if not (source / "index.html").is_file():
        raise DeployError(f"{source} has no index.html: pass the frontend directory with --source.")
    return {
        p.relative_to(source).as_posix(): p
        for p in sorted(source.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
    }


def publish(ctx: Context, source: Path) -> PublishReport:
    report = PublishReport()
    bucket = ctx.config.frontend_bucket
    s3 = ctx.clients.s3
    files = local_files(source)
    remote: dict[str, str] = {}
    with aws_errors(f"Listing bucket {bucket}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                remote[obj["Key"]] = obj["ETag"].strip('"')
    for key, path in files.items():
        body = path.read_bytes()
        if remote.get(key) == hashlib.md5(body, usedforsecurity=False).hexdigest():
            report.unchanged.append(key)
            continue
        with aws_errors(f"Uploading {key}"):
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=content_type(path),
                CacheControl=cache_control(key),
            )
        report.uploaded.append(key)
        ctx.out(f"  uploaded {key} ({content_type(path)}, {cache_control(key)})")
    stale = sorted(set(remote) - set(files))
    for start in range(0, len(stale), 1000):
        chunk = stale[start : start + 1000]
        with aws_errors("Deleting stale objects"):
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
    for key in stale:
        ctx.out(f"  deleted {key}")
    report.deleted = stale
    if report.uploaded or report.deleted:
        dist = cloudfront.find_distribution(ctx)
        if dist is None:
            raise DeployError(
                "Files are uploaded, but there is no distribution for this edge to invalidate. "
                "Run provision_infra --apply."
            )
        with aws_errors("Creating the CloudFront invalidation"):
            response = ctx.clients.cloudfront.create_invalidation(
                DistributionId=dist["Id"],
                InvalidationBatch={
                    "Paths": {"Quantity": 1, "Items": ["/*"]},
                    "CallerReference": f"gatehouse-frontend-{time.time_ns()}",
                },
            )
        report.invalidation_id = response["Invalidation"]["Id"]
    return report
