"""Ownership by tag: provisioning touches only what carries `gatehouse:edge=<name>`.

The resource modules find most resources by name (IP sets, web ACL, security group,
target group, ALB, its listeners and secret rule, the OAC, the bucket). In a shared
account a namesake may be someone else's, so before anything is written (and before the
origin secret is read back from an ALB rule) every namesake is checked:

- tagged `gatehouse:edge=<name>`: ours;
- tagged for another edge: refused, even with --adopt;
- untagged: refused, naming it (kind, name, id/ARN) and the flag, unless --adopt, in
  which case the plan shows one `~ ... (adopt)` change that tags it, so it is owned from
  then on;
- the OAC and the response headers policy cannot be tagged (CloudFront takes no tags on
  them): each is ours when no distribution uses it or only ours (found by tag) does; one
  used by another distribution is someone else's.

--destroy never deletes what is not ours: `split_destroy` drops the delete changes of
foreign resources (and the listeners of a foreign ALB) and reports them as skipped.

How tags are read: wafv2 ListTagsForResource, elbv2 DescribeTags (at most 20 ARNs per
call), ec2 `Tags` in DescribeSecurityGroups, s3 GetBucketTagging, cloudfront
ListTagsForResource (the distribution), logs ListTagsForResource (the WAF log group).
The web ACL's logging configuration takes no tags: it is ours when the web ACL is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deploy import alb, cloudfront, s3, security_group, waf, waf_logging
from deploy.aws import EDGE_TAG, aws_errors, tags_dict
from deploy.context import Context
from deploy.errors import DeployError
from deploy.plan import Change, FieldChange

ELB_TAGS_PER_CALL = 20  # DescribeTags: "You can specify up to 20 resources in a single call."


@dataclass
class Namesake:
    """A resource found by the name this edge gives it, and whose it is."""

    kind: str  # as the plan prints it, e.g. "alb load balancer"
    name: str  # as the plan prints it (the destroy changes use the same)
    ident: str  # id or ARN
    owner: str | None  # the gatehouse:edge tag's value; None when untagged
    tag: Callable[[], None] | None  # adds our tag; None when the kind takes no tags
    used_by: str | None = None  # untaggable kinds: the foreign distribution using it

    def ours(self, ctx: Context) -> bool:
        if self.tag is None:
            return self.used_by is None
        return self.owner == ctx.name

    def describe(self) -> str:
        return f"{self.kind} {self.name} ({self.ident})"


# --- reading -------------------------------------------------------------------------------


def _waf_tags(ctx: Context, arn: str) -> dict[str, str]:
    with aws_errors(f"Reading tags of {arn}"):
        info = ctx.clients.wafv2.list_tags_for_resource(ResourceARN=arn)["TagInfoForResource"]
    return tags_dict(info.get("TagList"))


def _waf_tagger(ctx: Context, arn: str) -> Callable[[], None]:
    def tag() -> None:
        ctx.clients.wafv2.tag_resource(ResourceARN=arn, Tags=ctx.tags())

    return tag


def elb_tags(ctx: Context, arns: list[str]) -> dict[str, dict[str, str]]:
    """Tags of ELB resources by ARN, 20 ARNs per DescribeTags call."""
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), ELB_TAGS_PER_CALL):
        batch = arns[start : start + ELB_TAGS_PER_CALL]
        with aws_errors("Reading load balancer tags"):
            response = ctx.clients.elbv2.describe_tags(ResourceArns=batch)
        for description in response["TagDescriptions"]:
            found[description["ResourceArn"]] = tags_dict(description.get("Tags"))
    return found


def _elb_tagger(ctx: Context, arn: str) -> Callable[[], None]:
    def tag() -> None:
        ctx.clients.elbv2.add_tags(ResourceArns=[arn], Tags=ctx.tags())

    return tag


def _waf_namesakes(ctx: Context) -> list[Namesake]:
    found = []
    for _, summary in sorted(waf.find_ip_sets(ctx).items()):
        found.append(
            Namesake(
                "wafv2 ip set",
                summary["Name"],
                summary["ARN"],
                _waf_tags(ctx, summary["ARN"]).get(EDGE_TAG),
                _waf_tagger(ctx, summary["ARN"]),
            )
        )
    acl = waf.find_web_acl(ctx)
    if acl is not None:
        found.append(
            Namesake(
                "wafv2 web acl",
                acl["Name"],
                acl["ARN"],
                _waf_tags(ctx, acl["ARN"]).get(EDGE_TAG),
                _waf_tagger(ctx, acl["ARN"]),
            )
        )
    return found


def _log_group_namesake(ctx: Context) -> list[Namesake]:
    group = waf_logging.find_log_group(ctx)
    if group is None:
        return []
    arn = waf_logging.group_arn(group)

    def tag() -> None:
        tags = {t["Key"]: t["Value"] for t in ctx.tags()}
        ctx.clients.waf_logs.tag_resource(resourceArn=arn, tags=tags)

    owner = waf_logging.log_group_tags(ctx, arn).get(EDGE_TAG)
    return [Namesake(waf_logging.LOG_GROUP, group["logGroupName"], arn, owner, tag)]


def _bucket_namesake(ctx: Context) -> list[Namesake]:
    bucket = ctx.config.frontend_bucket
    if not s3._bucket_exists(ctx):
        return []
    tags = s3._bucket_tags(ctx)

    def tag() -> None:
        # PutBucketTagging replaces the whole set: keep the owner's other tags.
        current = s3._read_bucket_tags(ctx)  # now, not as planned
        merged = {**current, **{t["Key"]: t["Value"] for t in ctx.tags()}}
        ctx.clients.s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in merged.items()]}
        )

    return [Namesake("s3 bucket", bucket, f"arn:aws:s3:::{bucket}", tags.get(EDGE_TAG), tag)]


def _other_distributions(ctx: Context) -> list[dict[str, Any]]:
    """Every distribution but this edge's (summaries), from one listing."""
    ours = cloudfront.find_distribution(ctx)
    return [d for d in cloudfront.list_distributions(ctx) if ours is None or d["Id"] != ours["Id"]]


def _used_by(others: list[dict[str, Any]], uses: Callable[[dict[str, Any]], bool]) -> str | None:
    return next((item["Id"] for item in others if uses(item)), None)


def _untaggable_namesakes(ctx: Context) -> list[Namesake]:
    """The OAC and the response headers policy take no tags: each is ours unless another
    distribution uses it."""
    oac = s3.find_oac(ctx)
    policy = cloudfront.find_response_headers_policy(ctx)
    others = _other_distributions(ctx) if oac or policy else []
    found = []
    if oac is not None:

        def uses_oac(item: dict[str, Any]) -> bool:
            origins = (item.get("Origins") or {}).get("Items") or []
            return any(o.get("OriginAccessControlId") == oac["Id"] for o in origins)

        kind = "cloudfront origin access control"
        found.append(Namesake(kind, oac["Name"], oac["Id"], None, None, _used_by(others, uses_oac)))
    if policy is not None:

        def uses_policy(item: dict[str, Any]) -> bool:
            behaviours = [item.get("DefaultCacheBehavior") or {}]
            behaviours += (item.get("CacheBehaviors") or {}).get("Items") or []
            return any(b.get("ResponseHeadersPolicyId") == policy["Id"] for b in behaviours)

        kind = "cloudfront response headers policy"
        name = policy["ResponseHeadersPolicyConfig"]["Name"]
        found.append(Namesake(kind, name, policy["Id"], None, None, _used_by(others, uses_policy)))
    return found


def _network_namesakes(ctx: Context) -> list[Namesake]:
    found = []
    group = security_group.find_group(ctx)
    if group is not None:
        group_id = group["GroupId"]

        def tag() -> None:
            ctx.clients.ec2.create_tags(Resources=[group_id], Tags=ctx.tags())

        found.append(
            Namesake(
                "security group",
                group["GroupName"],
                group_id,
                tags_dict(group.get("Tags")).get(EDGE_TAG),
                tag,
            )
        )
    # (kind, name, arn) of everything on the ALB side found by name, then one tag read.
    by_name: list[tuple[str, str, str]] = []
    tg = alb.find_target_group(ctx)
    if tg is not None:
        by_name.append(("alb target group", tg["TargetGroupName"], tg["TargetGroupArn"]))
    lb = alb.find_load_balancer(ctx)
    if lb is not None:
        lb_label = lb["LoadBalancerName"]
        by_name.append(("alb load balancer", lb_label, lb["LoadBalancerArn"]))
        listeners = alb.find_listeners(ctx, lb["LoadBalancerArn"])
        for port, listener in sorted(listeners.items()):
            by_name.append(("alb listener", f"{lb_label}:{port}", listener["ListenerArn"]))
        if 443 in listeners:
            for rule in alb.find_rules(ctx, listeners[443]["ListenerArn"]):
                if alb.header_values(rule) is not None:
                    by_name.append(
                        (
                            "alb listener rule",
                            f"{lb_label}:443 priority {rule['Priority']}",
                            rule["RuleArn"],
                        )
                    )
                    break
    tags = elb_tags(ctx, [arn for _, _, arn in by_name])
    for kind, label, arn in by_name:
        found.append(
            Namesake(kind, label, arn, tags.get(arn, {}).get(EDGE_TAG), _elb_tagger(ctx, arn))
        )
    return found


def namesakes(ctx: Context) -> list[Namesake]:
    """Every existing resource this edge would find by name, with its owner."""
    return (
        _waf_namesakes(ctx)
        + _log_group_namesake(ctx)
        + _bucket_namesake(ctx)
        + _untaggable_namesakes(ctx)
        + _network_namesakes(ctx)
    )


# --- plan and apply ------------------------------------------------------------------------


def _why_not_ours(ctx: Context, found: Namesake) -> str:
    if found.tag is None:
        return f"is used by CloudFront distribution {found.used_by}, which is not this edge's"
    if found.owner is not None:
        return f"is tagged {EDGE_TAG}={found.owner} (another edge's)"
    return f"exists but is not tagged {EDGE_TAG}={ctx.name}, so this edge did not create it"


def plan(ctx: Context) -> list[Change]:
    """Refuse foreign namesakes before any write; with ctx.adopt, plan tagging untagged ones.

    Raises DeployError naming every refused resource; returns the adopt changes.
    """
    refused: list[str] = []
    changes: list[Change] = []
    for found in namesakes(ctx):
        if found.ours(ctx):
            continue
        reason = _why_not_ours(ctx, found)
        adoptable = found.owner is None
        if not (adoptable and ctx.adopt):
            refused.append(f"  {found.describe()} {reason}")
            continue
        if found.tag is None:
            note = (
                f"adopt {found.ident}: shared with distribution {found.used_by}; it takes no tags"
            )
            changes.append(Change.update(found.kind, found.name, lambda: None, note=note))
            continue
        fields = [FieldChange(f"tags.{EDGE_TAG}", None, ctx.name)]
        note = f"adopt {found.ident}: untagged namesake"
        changes.append(Change.update(found.kind, found.name, found.tag, fields, note=note))
    if refused:
        adoptable_hint = (
            "If these really are this edge's, run again with --adopt: untagged ones are then "
            f"tagged {EDGE_TAG}={ctx.name} and managed from then on. Otherwise rename or remove "
            "them, or choose another edge name."
        )
        raise DeployError(
            "Refusing to touch resources this edge does not own (nothing was changed):\n"
            + "\n".join(refused)
            + "\n"
            + adoptable_hint
        )
    return changes


def split_destroy(ctx: Context, changes: list[Change]) -> tuple[list[Change], list[str]]:
    """(the delete changes of resources we own, a line per foreign resource skipped)."""
    foreign = [f for f in namesakes(ctx) if not f.ours(ctx)]
    skip = {(f.kind, f.name) for f in foreign}
    foreign_lbs = {f.name for f in foreign if f.kind == "alb load balancer"}
    foreign_acls = {f.name for f in foreign if f.kind == "wafv2 web acl"}
    skipped = [f"{f.describe()} {_why_not_ours(ctx, f)}" for f in foreign]
    kept = []
    for change in changes:
        on_foreign_lb = change.kind == "alb listener" and change.name.split(":")[0] in foreign_lbs
        on_foreign_acl = change.kind == waf_logging.LOGGING and change.name in foreign_acls
        if (change.kind, change.name) in skip or on_foreign_lb or on_foreign_acl:
            continue
        kept.append(change)
    return kept, skipped


def raise_if_foreign(ctx: Context) -> None:
    """For commands that change one resource in place (rotation): ours or nothing."""
    foreign = [f for f in namesakes(ctx) if not f.ours(ctx)]
    if foreign:
        raise DeployError(
            "Refusing to touch resources this edge does not own (nothing was changed):\n"
            + "\n".join(f"  {f.describe()} {_why_not_ours(ctx, f)}" for f in foreign)
            + "\nRun provision_infra --apply --adopt first if they really are this edge's."
        )
