"""Plan, apply and destroy one edge, in dependency order.

Order (create): WAF (IP sets, web ACL) -> S3 bucket + OAC -> security group -> ALB
(target group, load balancer, listeners, secret rule) -> CloudFront -> bucket policy
(needs the distribution ARN). Destroy runs the reverse.

Planning only reads. Applying re-plans each stage just before applying it, so a stage
sees the real ids its predecessors created, and changes only what differs. After the IP
sets are first created, the config's initial CIDRs are seeded through accesscontrol (the
same code the app uses), and from then on the sets' contents belong to the app.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy import alb, cloudfront, s3, security_group, waf
from deploy.context import Context, OriginSecret
from deploy.errors import DeployError
from deploy.plan import UNKNOWN, Change, render_change

SECRET_ENV = "GATEHOUSE_ORIGIN_SECRET"  # noqa: S105 (a variable name)
# ALB header conditions match case-insensitively and allow * and ? wildcards, and values
# are limited to 128 characters: hex keeps every bit of entropy and has no wildcards.
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


@dataclass(frozen=True)
class Stage:
    name: str
    plan: Callable[[Context], list[Change]]
    destroy: Callable[[Context], list[Change]]


def _nothing(ctx: Context) -> list[Change]:
    return []


STAGES = [
    Stage("waf", waf.plan, waf.plan_destroy),
    Stage("s3", s3.plan_bucket, s3.plan_destroy_bucket),
    Stage("security group", security_group.plan, security_group.plan_destroy),
    Stage("alb", alb.plan, alb.plan_destroy),
    Stage("cloudfront", cloudfront.plan, cloudfront.plan_destroy),
    Stage("bucket policy", s3.plan_policy, _nothing),
]


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


def resolve_secret(ctx: Context) -> OriginSecret:
    """The secret in use (from the distribution, else the ALB rule), else a new one."""
    current = cloudfront.read_origin_secret(ctx)
    if current is None:
        accepted = alb.read_rule_secrets(ctx)
        current = accepted[0] if accepted else None
    if current is not None:
        return OriginSecret(current=current)
    supplied = secret_from_env()
    if supplied:
        return OriginSecret(current=supplied)
    return OriginSecret(current=new_secret(), generated=True)


def plan(ctx: Context) -> list[Change]:
    """Every change --apply would make, without changing anything."""
    ctx.secret = resolve_secret(ctx)
    changes: list[Change] = []
    for stage in STAGES:
        changes.extend(stage.plan(ctx))
    return changes


def apply(ctx: Context, *, seed: Callable[[Context], None] | None = None) -> list[Change]:
    """Apply stage by stage; returns the changes made."""
    if ctx.secret is None:
        ctx.secret = resolve_secret(ctx)
    done: list[Change] = []
    for stage in STAGES:
        for change in stage.plan(ctx):
            ctx.out("\n".join(render_change(change)))
            change.apply()
            done.append(change)
        if stage.name == "waf" and ctx.created_ip_sets:
            (seed or seed_allowlist)(ctx)
    return done


def plan_destroy(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    for stage in reversed(STAGES):
        changes.extend(stage.destroy(ctx))
    return changes


def destroy(ctx: Context) -> list[Change]:
    done = []
    for stage in reversed(STAGES):
        for change in stage.destroy(ctx):
            ctx.out("\n".join(render_change(change)))
            change.apply()
            done.append(change)
    return done


def seed_allowlist(ctx: Context) -> None:
    """Put the config's initial CIDRs into the new IP sets through the app's own code.

    allow_network records each network (source "bootstrap") and syncs WAF; a final
    sync_waf_ip_sets also projects networks the database already had (e.g. after a
    destroy and a new apply). Provisioning never writes IP set contents itself.
    """
    from django.core.exceptions import ValidationError

    from accesscontrol.exceptions import NetworkConflict
    from accesscontrol.services import allow_network, command_line_requester, sync_waf_ip_sets
    from accesscontrol.waf import WafIpSetGateway

    gateway = WafIpSetGateway(ctx.clients.wafv2, edge_name=ctx.name)
    requester = command_line_requester("manage.py provision_infra")
    for cidr in ctx.config.initial_cidrs:
        try:
            allow_network(
                requester=requester,
                cidr=cidr,
                label="initial allowlist (edge config)",
                # The file's name, not the server's path to it: notes show in the console.
                note=f"From the edge config ({Path(ctx.config.path).name}).",
                source="bootstrap",
                gateway=gateway,
            )
            ctx.out(f"    allowlist: added {cidr}")
        except NetworkConflict:
            ctx.out(f"    allowlist: {cidr} is already allowed")
        except ValidationError as exc:
            raise DeployError(
                f"{ctx.config.path}: key 'allowlist.initial_cidrs': {cidr} was refused: "
                f"{'; '.join(m.rstrip('.') for m in exc.messages)}. Fix the entry, then run "
                "--apply again (the rest "
                "of the edge is in place)."
            ) from exc
    report = sync_waf_ip_sets(requester=requester, gateway=gateway)
    for result in report.sets:
        if result.status not in ("in_sync", "applied"):
            ctx.out(f"    allowlist sync of {result.name}: {result.status} {result.error}".rstrip())


def outputs(ctx: Context) -> list[str]:
    state = ctx.state
    config = ctx.config
    lines = [
        "Outputs:",
        f"  distribution_domain = {state.get('distribution_domain', UNKNOWN)}",
        f"  alb_dns_name        = {state.get('alb_dns_name', UNKNOWN)}",
        f"  web_acl_arn         = {state.get('web_acl_arn', UNKNOWN)}",
        f"  ip_set_v4_arn       = {state.get('ip_set_v4_arn', UNKNOWN)}",
        f"  ip_set_v6_arn       = {state.get('ip_set_v6_arn', UNKNOWN)}",
        f"  frontend_bucket     = {config.frontend_bucket}",
        "",
        "DNS records to create (CNAME, or Route 53 alias A/AAAA):",
    ]
    for host in config.app_hostnames:
        lines.append(f"  {host}  ->  {state.get('distribution_domain', UNKNOWN)}")
    lines.append(f"  {config.origin_hostname}  ->  {state.get('alb_dns_name', UNKNOWN)}")
    return lines


def rotate_origin_secret(ctx: Context, new: str | None = None) -> OriginSecret:
    """Two-value rotation: ALB accepts new+old, CloudFront switches, the old is dropped."""
    dist = cloudfront.find_distribution(ctx)
    rule = alb.find_secret_rule(ctx)
    if dist is None or rule is None:
        raise DeployError(
            "There is no edge to rotate: the distribution or the ALB secret rule is missing. "
            "Run provision_infra --apply first."
        )
    old = cloudfront.read_origin_secret(ctx)
    new = new or secret_from_env() or new_secret()
    if new == old:
        raise DeployError(
            f"The new origin secret equals the current one: unset {SECRET_ENV} or give it a "
            "new value."
        )
    ctx.secret = OriginSecret(current=new, previous=old)
    # update_distribution sends the whole desired config, so a rotation also restores
    # any drift on the distribution (the same thing --apply would do).
    ctx.out("1/3 ALB rule: accepting the new and the old secret")
    alb.set_rule_secrets(ctx, rule["RuleArn"], ctx.secret.accepted)
    ctx.out("2/3 CloudFront: sending the new secret")
    plan_ctx_state(ctx)
    cloudfront.update_distribution(ctx, dist["Id"])
    ctx.out("3/3 ALB rule: dropping the old secret")
    alb.set_rule_secrets(ctx, rule["RuleArn"], [new])
    ctx.secret = OriginSecret(current=new)
    return ctx.secret


def plan_ctx_state(ctx: Context) -> None:
    """Fill ctx.state with the existing ids the distribution config refers to."""
    from deploy.s3 import find_oac

    oac = find_oac(ctx)
    acl = waf.find_web_acl(ctx)
    if oac is None or acl is None:
        raise DeployError(
            "The edge is incomplete (origin access control or web ACL missing). "
            "Run provision_infra --apply first."
        )
    ctx.state["oac_id"] = oac["Id"]
    ctx.state["web_acl_arn"] = acl["ARN"]
