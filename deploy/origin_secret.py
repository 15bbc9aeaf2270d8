"""The origin secret's lifecycle: the `X-Origin-Verify` value CloudFront sends and the ALB
rule (and the app) accept.

No store of its own: between runs it is read back from the distribution's custom origin
header (or, before the distribution exists, from the ALB rule); on the first apply it comes
from GATEHOUSE_ORIGIN_SECRET or is generated. Rotation accepts two values for a moment:
the ALB rule takes new and old, CloudFront switches to the new, the rule drops the old, so
no request is refused in between.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accesscontrol.edge import ORIGIN_HEADER
from deploy import alb, cloudfront, ownership, s3, waf
from deploy.aws import aws_errors
from deploy.errors import DeployError

if TYPE_CHECKING:
    from deploy.context import Context

SECRET_ENV = "GATEHOUSE_ORIGIN_SECRET"  # noqa: S105 (a variable name)
# ALB header conditions match case-insensitively and allow * and ? wildcards, and values
# are limited to 128 characters: hex keeps every bit of entropy and has no wildcards.
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


@dataclass
class OriginSecret:
    """The value CloudFront sends; `previous` only during a rotation."""

    current: str
    previous: str | None = None
    generated: bool = False  # made by this run: print it once, after apply

    @property
    def accepted(self) -> list[str]:
        return [self.current] + ([self.previous] if self.previous else [])


def new_secret() -> str:
    return secrets.token_hex(32)


def secret_from_env() -> str | None:
    value = os.environ.get(SECRET_ENV, "").strip()
    if not value:
        return None
    if not SECRET_PATTERN.match(value):
        raise DeployError(
            f"{SECRET_ENV} must be 32-128 characters of letters, digits, '-' and '_' "
            "(the ALB compares header values case-insensitively, so prefer "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`)."
        )
    return value


def sent(ctx: Context) -> str | None:
    """The value the distribution sends now (None when there is no distribution)."""
    dist = cloudfront.find_distribution(ctx)
    if dist is None:
        return None
    config, _ = cloudfront.get_config(ctx, dist["Id"])
    for origin in config["Origins"].get("Items") or []:
        for header in (origin.get("CustomHeaders") or {}).get("Items") or []:
            if header["HeaderName"].lower() == ORIGIN_HEADER.lower():
                return header["HeaderValue"]
    return None


def accepted(ctx: Context) -> list[str]:
    """The values the ALB rule accepts now ([] when there is no rule yet)."""
    lb = alb.find_load_balancer(ctx)
    https = alb.find_listeners(ctx, lb["LoadBalancerArn"]).get(443) if lb else None
    if https is None:
        return []
    for rule in alb.find_rules(ctx, https["ListenerArn"]):
        values = alb.header_values(rule)
        if values:
            return values
    return []


def resolve(ctx: Context) -> OriginSecret:
    """The secret in use (from the distribution, else the ALB rule), else a new one."""
    current = sent(ctx)
    if current is None:
        current = next(iter(accepted(ctx)), None)
    if current is not None:
        return OriginSecret(current=current)
    supplied = secret_from_env()
    if supplied:
        return OriginSecret(current=supplied)
    return OriginSecret(current=new_secret(), generated=True)


def _accept(ctx: Context, rule_arn: str, values: list[str]) -> None:
    with aws_errors("Updating the origin secret rule"):
        ctx.clients.elbv2.modify_rule(RuleArn=rule_arn, Conditions=[alb.header_condition(values)])


def rotate(
    ctx: Context,
    new: str | None = None,
    *,
    confirm: Callable[[OriginSecret], None] | None = None,
) -> OriginSecret:
    """Two-value rotation: ALB accepts new+old, CloudFront switches, the old is dropped.

    `confirm` sees the chosen secrets before the first write and may raise to stop.
    """
    ctx.reads.clear()
    ownership.raise_if_foreign(ctx)
    dist = cloudfront.find_distribution(ctx)
    rule = alb.find_secret_rule(ctx)
    if dist is None or rule is None:
        raise DeployError(
            "There is no edge to rotate: the distribution or the ALB secret rule is missing. "
            "Run provision_infra --apply first."
        )
    old = sent(ctx)
    new = new or secret_from_env() or new_secret()
    if new == old:
        raise DeployError(
            f"The new origin secret equals the current one: unset {SECRET_ENV} or give it a "
            "new value."
        )
    ctx.secret = OriginSecret(current=new, previous=old)
    if confirm is not None:
        confirm(ctx.secret)
    # update_distribution sends the whole desired config, so a rotation also restores
    # any drift on the distribution (the same thing --apply would do).
    ctx.out("1/3 ALB rule: accepting the new and the old secret")
    _accept(ctx, rule["RuleArn"], ctx.secret.accepted)
    ctx.out("2/3 CloudFront: sending the new secret")
    _read_distribution_refs(ctx)
    cloudfront.update_distribution(ctx, dist["Id"])
    ctx.out("3/3 ALB rule: dropping the old secret")
    _accept(ctx, rule["RuleArn"], [new])
    ctx.secret = OriginSecret(current=new)
    return ctx.secret


def _read_distribution_refs(ctx: Context) -> None:
    """Fill ctx.state with the existing ids the distribution config refers to."""
    oac = s3.find_oac(ctx)
    acl = waf.find_web_acl(ctx)
    if oac is None or acl is None:
        raise DeployError(
            "The edge is incomplete (origin access control or web ACL missing). "
            "Run provision_infra --apply first."
        )
    ctx.state["oac_id"] = oac["Id"]
    ctx.state["web_acl_arn"] = acl["ARN"]
    policy = cloudfront.find_response_headers_policy(ctx)
    if policy is None:
        raise DeployError(
            "The edge is incomplete (response headers policy missing). "
            "Run provision_infra --apply first."
        )
    ctx.state["response_headers_policy_id"] = policy["Id"]
