"""AWS clients for the edge, built lazily from one boto3.Session, and error translation.

Nothing here runs at import time (moto must be active before a client exists). Clients
for CloudFront, CLOUDFRONT-scope WAF and CloudFront's ACM certificates are always built
in us-east-1; everything else in the edge's region. `aws_errors()` turns botocore
failures into DeployError with the action, the AWS error code and a hint; `read_or_none()`
reads one thing that may be missing; `pages()` walks every page of a list call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from deploy.errors import DeployError

GLOBAL_REGION = "us-east-1"
# Services whose CloudFront-related API lives only in us-east-1.
GLOBAL_SERVICES = {"cloudfront", "wafv2"}
EDGE_TAG = "gatehouse:edge"
T = TypeVar("T")
# The services the edge uses: boto3's stubs type `Session.client` per literal service name.
ServiceName = Literal["acm", "cloudfront", "ec2", "elbv2", "logs", "s3", "wafv2"]


class AwsClients:
    """One session, one client per (service, region), created on first use."""

    def __init__(self, *, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        self.session = session if session is not None else boto3.Session()
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: ServiceName, *, region: str | None = None) -> Any:
        if region is None:
            region = GLOBAL_REGION if service in GLOBAL_SERVICES else self.region
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=region)
        return self._clients[key]

    @property
    def cloudfront(self) -> Any:
        return self.client("cloudfront")

    @property
    def wafv2(self) -> Any:
        return self.client("wafv2")

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def elbv2(self) -> Any:
        return self.client("elbv2")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def waf_logs(self) -> Any:
        """CloudWatch Logs where WAF for CloudFront delivers: us-east-1, like WAF itself."""
        return self.client("logs", region=GLOBAL_REGION)

    def acm(self, region: str) -> Any:
        return self.client("acm", region=region)


HINTS = {
    "AccessDenied": "The AWS identity lacks a permission: compare it with "
    "`python manage.py provision_infra --print-iam-policy`.",
    "AccessDeniedException": "The AWS identity lacks a permission: compare it with "
    "`python manage.py provision_infra --print-iam-policy`.",
    "UnauthorizedOperation": "The AWS identity lacks a permission: compare it with "
    "`python manage.py provision_infra --print-iam-policy`.",
    "ExpiredToken": "Refresh your AWS credentials and run again.",
    "InvalidClientTokenId": "Check your AWS credentials.",
    "WAFOptimisticLockException": "Someone else changed it at the same time; run again.",
    "PreconditionFailed": "Someone else changed it at the same time; run again.",
}


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Translate botocore failures inside the block into DeployError naming `action`."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        hint = HINTS.get(code, "Fix the cause and run again: applying is safe to repeat.")
        raise DeployError(f"{action} failed: {code}: {message}. {hint}") from exc
    except BotoCoreError as exc:
        raise DeployError(
            f"{action} failed: {exc}. Check your network and AWS configuration, then run again."
        ) from exc


def read_or_none(call: Callable[[], T], *missing: str, action: str) -> T | None:
    """`call()`, or None when AWS answers one of the `missing` error codes; any other
    failure becomes DeployError naming `action`."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in missing:
            return None
        with aws_errors(action):
            raise


def _dig(value: dict[str, Any], path: list[str]) -> Any:
    for key in path:
        value = value.get(key) or {}
    return value


def pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item under `key` (dotted: "DistributionList.Items") in every page of a list
    call, read lazily: a caller that stops early reads no further page.

    boto3's paginator where the operation has one; else (WAF's lists, CloudFront's
    response headers policies) the marker loop: the response's NextMarker, next to the
    items, goes back as the request's NextMarker or Marker, whichever it takes.
    """
    path = key.split(".")
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from _dig(page, path) or []
        return
    members = client.meta.service_model.operation_model(
        client.meta.method_to_api_mapping[operation]
    ).input_shape.members
    marker_param = "NextMarker" if "NextMarker" in members else "Marker"
    while True:
        page = getattr(client, operation)(**params)
        items = _dig(page, path) or []
        yield from items
        marker = _dig(page, path[:-1]).get("NextMarker")
        if not marker or not items:
            return
        params = {**params, marker_param: marker}


def tag_list(
    name: str, extra: dict[str, str], *, key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    """Tags in the common [{"Key": k, "Value": v}] shape, with the edge tag first."""
    tags = {EDGE_TAG: name, **extra}
    return [{key: k, value: v} for k, v in tags.items()]


def tags_dict(
    tags: list[dict[str, str]] | None, *, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


def wait_until(
    *,
    label: str,
    poll: Callable[[], tuple[bool, str]],
    out: Callable[[str], None],
    interval: float,
    timeout: float,
) -> None:
    """Poll until `poll()` says done, printing elapsed time and status on every change."""
    started = time.monotonic()
    last = None
    while True:
        done, status = poll()
        elapsed = time.monotonic() - started
        if status != last or done:
            out(f"    {label}: {status} ({elapsed:.0f}s elapsed)")
            last = status
        if done:
            return
        if elapsed > timeout:
            raise DeployError(
                f"Timed out after {elapsed:.0f}s waiting for {label} (last status: {status}). "
                "AWS is still working on it; run the same command again later to continue."
            )
        time.sleep(interval)


# Codes that mean "what you refer to was created or deleted a moment ago and AWS has not
# caught up yet": retried with backoff, never reported as a failure at once.
NOT_USABLE_YET = frozenset({"WAFUnavailableEntityException", "InvalidWebACLId"})
STILL_IN_USE = frozenset(
    {
        "WAFAssociatedItemException",
        "ResourceInUse",
        "DependencyViolation",
        "OriginAccessControlInUse",
        "ResponseHeadersPolicyInUse",
    }
)
RETRY_FOR_SECONDS = 300.0  # a few minutes: WAF and CloudFront usually catch up in seconds
RETRY_MAX_DELAY = 30.0


def retry_while(
    *,
    action: str,
    call: Callable[[], Any],
    codes: frozenset[str],
    out: Callable[[str], None],
    interval: float,
    timeout: float | None = None,
) -> Any:
    """Run `call`, retrying with exponential backoff (with progress) while AWS answers one
    of `codes`; other failures, and the last one after `timeout`, become DeployError."""
    timeout = RETRY_FOR_SECONDS if timeout is None else timeout
    started = time.monotonic()
    delay = max(interval, 0.05) / 2
    while True:
        try:
            return call()
        except ClientError as exc:
            code = error_code(exc)
            elapsed = time.monotonic() - started
            if code not in codes or elapsed >= timeout:
                with aws_errors(action):
                    raise
            delay = min(delay * 2, RETRY_MAX_DELAY, max(timeout - elapsed, 0.01))
            out(
                f"    {action}: {code}, AWS has not caught up yet; retrying in {delay:.1f}s "
                f"({elapsed:.0f}s elapsed)"
            )
            time.sleep(delay)
