"""The ALB's security group: HTTPS (443) in, only from CloudFront's origin-facing
managed prefix list.

The prefix list is looked up by name because its id differs per region. It weighs 55 of
the 60 rules a group may hold, so the group opens exactly one port. Any other ingress
rule (e.g. someone widening it to 0.0.0.0/0) is drift and gets revoked.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import aws_errors, error_code
from deploy.context import Context
from deploy.errors import DeployError
from deploy.plan import UNKNOWN, Change, FieldChange, diff

CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
HTTPS_PORT = 443


def group_name(edge_name: str) -> str:
    return f"{edge_name}-alb"


def prefix_list_id(ctx: Context) -> str:
    with aws_errors(f"Looking up the managed prefix list {CLOUDFRONT_PREFIX_LIST}"):
        response = ctx.clients.ec2.describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_PREFIX_LIST]}]
        )
    lists = response.get("PrefixLists", [])
    if not lists:
        raise DeployError(
            f"The managed prefix list {CLOUDFRONT_PREFIX_LIST} does not exist in region "
            f"{ctx.config.region}. Choose a region where CloudFront publishes it (all "
            "commercial regions do)."
        )
    prefix_list_id: str = lists[0]["PrefixListId"]
    return prefix_list_id


def find_group(ctx: Context) -> dict[str, Any] | None:
    return ctx.read_once("security_group", _find_group)


def _find_group(ctx: Context) -> dict[str, Any] | None:
    with aws_errors("Reading security groups"):
        groups = ctx.clients.ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [ctx.config.vpc_id]},
                {"Name": "group-name", "Values": [group_name(ctx.name)]},
            ]
        )["SecurityGroups"]
    return groups[0] if groups else None


def _rules(permissions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One readable string per (protocol, ports, source) -> the permission to revoke it."""
    rules: dict[str, dict[str, Any]] = {}
    for perm in permissions:
        proto = perm.get("IpProtocol")
        ports = "all" if proto == "-1" else f"{perm.get('FromPort')}-{perm.get('ToPort')}"
        base: dict[str, Any] = {
            k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm
        }
        for source_key, id_key, label in (
            ("IpRanges", "CidrIp", ""),
            ("Ipv6Ranges", "CidrIpv6", ""),
            ("PrefixListIds", "PrefixListId", ""),
            ("UserIdGroupPairs", "GroupId", "sg "),
        ):
            for source in perm.get(source_key, []):
                text = f"{proto} {ports} from {label}{source[id_key]}"
                rules[text] = {**base, source_key: [{id_key: source[id_key]}]}
    return rules


def desired_permission(pl_id: str) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": HTTPS_PORT,
        "ToPort": HTTPS_PORT,
        "PrefixListIds": [
            {"PrefixListId": pl_id, "Description": "CloudFront origin-facing servers only"}
        ],
    }


def plan(ctx: Context) -> list[Change]:
    pl_id = prefix_list_id(ctx)
    wanted = _rules([desired_permission(pl_id)])
    name = group_name(ctx.name)
    group = find_group(ctx)
    if group is None:
        ctx.state["security_group_id"] = UNKNOWN

        def create() -> None:
            ec2 = ctx.clients.ec2
            group_id = ec2.create_security_group(
                GroupName=name,
                Description=f"Gatehouse {ctx.name}: HTTPS from CloudFront only",
                VpcId=ctx.config.vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": ctx.tags()}],
            )["GroupId"]
            ec2.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[desired_permission(pl_id)]
            )
            ctx.state["security_group_id"] = group_id

        fields = [
            FieldChange("vpc_id", None, ctx.config.vpc_id),
            FieldChange("ingress", None, sorted(wanted)),
        ]
        return [Change.create("security group", name, create, fields)]

    ctx.state["security_group_id"] = group["GroupId"]
    actual = _rules(group.get("IpPermissions", []))
    field_changes = diff({"ingress": sorted(actual)}, {"ingress": sorted(wanted)})
    if not field_changes:
        return []

    def update() -> None:
        ec2 = ctx.clients.ec2
        extra = [perm for text, perm in actual.items() if text not in wanted]
        missing = [text for text in wanted if text not in actual]
        if extra:
            ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=extra)
        if missing:
            ec2.authorize_security_group_ingress(
                GroupId=group["GroupId"], IpPermissions=[desired_permission(pl_id)]
            )

    return [Change.update("security group", name, update, field_changes)]


def plan_destroy(ctx: Context) -> list[Change]:
    group = find_group(ctx)
    if group is None:
        return []
    if not ctx.is_ours({t["Key"]: t["Value"] for t in group.get("Tags", [])}):
        return []

    def delete() -> None:
        # The ALB's network interfaces linger for a while after it is deleted.
        for attempt in range(40):
            try:
                ctx.clients.ec2.delete_security_group(GroupId=group["GroupId"])
                return
            except ClientError as exc:
                if error_code(exc) != "DependencyViolation" or attempt == 39:
                    raise
                ctx.out("    security group still in use by the ALB's interfaces; retrying")
                time.sleep(max(ctx.poll_interval, 0.01))

    return [Change.delete("security group", group["GroupName"], delete)]
