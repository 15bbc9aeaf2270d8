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
from typing import TYPE_CHECKING, Any

from accesscontrol.edge import ORIGIN_HEADER
from deploy import alb, cloudfront, ownership, s3, waf
from deploy.aws import aws_errors
from deploy.errors import DeployError
from deploy.plan import UNKNOWN, Change, FieldChange, diff

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
                value: str = header["HeaderValue"]
                return value
    return None


def find_rule(ctx: Context) -> dict[str, Any] | None:
    """The HTTPS listener's rule on the origin header, or None."""
    lb = alb.find_load_balancer(ctx)
    https = alb.find_listeners(ctx, lb["LoadBalancerArn"]).get(443) if lb else None
    if https is None:
        return None
    rules = alb.find_rules(ctx, https["ListenerArn"])
    return next((r for r in rules if alb.header_values(r) is not None), None)


def accepted(ctx: Context) -> list[str]:
    """The values the ALB rule accepts now ([] when there is no rule yet)."""
    rule = find_rule(ctx)
    return (alb.header_values(rule) or []) if rule else []


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


def in_use(ctx: Context) -> OriginSecret:
    """`ctx.secret`, which the engine resolves before it plans or applies anything."""
    assert ctx.secret is not None, "the engine resolves the origin secret first"
    return ctx.secret


def plan_rule(ctx: Context) -> list[Change]:
    """The HTTPS listener's rule: the accepted secrets -> forward; any other rule on that
    listener could bypass the secret and is deleted."""
    changes: list[Change] = []
    elbv2 = ctx.clients.elbv2
    listener_arn = ctx.state["listener_443_arn"]
    label = f"{alb.lb_name(ctx.name)}:443 priority {alb.RULE_PRIORITY}"
    rules = [] if listener_arn == UNKNOWN else alb.find_rules(ctx, listener_arn)
    ours = next((r for r in rules if alb.header_values(r) is not None), None)
    # Unmanaged rules go first: one may hold our priority, and CreateRule would fail.
    for rule in rules:
        if rule is ours:
            continue

        def delete(rule: dict[str, Any] = rule) -> None:
            elbv2.delete_rule(RuleArn=rule["RuleArn"])

        changes.append(
            Change.delete(
                "alb listener rule",
                f"{alb.lb_name(ctx.name)}:443 priority {rule['Priority']}",
                delete,
                note="not managed by Gatehouse: it could bypass the origin secret",
            )
        )
    desired = {
        "condition": f"header {ORIGIN_HEADER} in accepted secrets",
        "secrets": sorted(in_use(ctx).accepted),
        "actions": [alb.forward_action(ctx.state["target_group_arn"])],
    }
    if ours is None:

        def create() -> None:
            elbv2.create_rule(
                ListenerArn=ctx.state["listener_443_arn"],
                Priority=alb.RULE_PRIORITY,
                Conditions=[alb.header_condition(in_use(ctx).accepted)],
                Actions=[alb.forward_action(ctx.state["target_group_arn"])],
                Tags=ctx.tags(),
            )

        fields = [
            FieldChange("condition", None, desired["condition"]),
            FieldChange("secrets", None, None, sensitive=True),
            FieldChange("actions", None, desired["actions"]),
        ]
        changes.append(Change.create("alb listener rule", label, create, fields))
        return changes
    actual = {
        "condition": desired["condition"],
        "secrets": sorted(alb.header_values(ours) or []),
        "actions": [alb.normalize_action(a) for a in ours.get("Actions", [])],
    }
    if len(ours.get("Conditions", [])) != 1:
        actual["condition"] = f"{len(ours['Conditions'])} conditions"
    field_changes = diff(actual, desired, sensitive=frozenset({"secrets"}))
    if field_changes:

        def update() -> None:
            elbv2.modify_rule(
                RuleArn=ours["RuleArn"],
                Conditions=[alb.header_condition(in_use(ctx).accepted)],
                Actions=[alb.forward_action(ctx.state["target_group_arn"])],
            )

        changes.append(Change.update("alb listener rule", label, update, field_changes))
    return changes


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
    rule = find_rule(ctx)
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
    _accept(ctx, rule["RuleArn"], in_use(ctx).accepted)
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
