"""WAF (scope CLOUDFRONT, us-east-1): the two office IP sets and the web ACL.

IP sets: created empty, then never touched again by provisioning: their contents belong
to the app (accesscontrol's sync), which the engine calls once to seed them. The web ACL:
rule 1 allows a source IP in the v4 or v6 set; default action Block with a custom 403
body. Everything is found again by name within the CLOUDFRONT scope.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from accesscontrol.edge import WAF_SCOPE, ip_set_name, web_acl_name
from deploy import waf_rules
from deploy.aws import NOT_USABLE_YET, STILL_IN_USE, aws_errors, pages, retry_while
from deploy.context import Context
from deploy.errors import DeployError
from deploy.plan import UNKNOWN, Change, FieldChange, diff

BLOCK_BODY_KEY = "blocked"
RULE_NAME = "allow-office-networks"
VERSIONS = {4: "IPV4", 6: "IPV6"}


# WAF's EntityDescription pattern allows letters, digits, white space and + = : # @ / - , .
# only (no parentheses); tests check these against the botocore model.
def ip_set_description(edge_name: str, version: int) -> str:
    return f"Gatehouse {edge_name}: office IPv{version} networks, managed by the app"


def web_acl_description(edge_name: str) -> str:
    return f"Gatehouse {edge_name}: allow office networks, block the rest"


def ip_set_addresses(ctx: Context) -> dict[int, list[str]]:
    """The addresses in each existing IP set, by IP version."""
    return {
        version: list(_get_ip_set(ctx, s)["IPSet"].get("Addresses") or [])
        for version, s in find_ip_sets(ctx).items()
    }


def _get_ip_set(ctx: Context, summary: dict[str, Any]) -> dict[str, Any]:
    """GetIPSet: {"IPSet": ..., "LockToken": ...}."""
    with aws_errors(f"Reading WAF IP set {summary['Name']}"):
        response: dict[str, Any] = ctx.clients.wafv2.get_ip_set(
            Name=summary["Name"], Scope=WAF_SCOPE, Id=summary["Id"]
        )
    return response


def _list_all(ctx: Context, operation: str, key: str) -> Iterator[dict[str, Any]]:
    return pages(ctx.clients.wafv2, operation, key, Scope=WAF_SCOPE, Limit=100)


def find_ip_sets(ctx: Context) -> dict[int, dict[str, Any]]:
    return ctx.read_once("ip_sets", _find_ip_sets)


def _find_ip_sets(ctx: Context) -> dict[int, dict[str, Any]]:
    with aws_errors("Listing WAF IP sets"):
        summaries = {s["Name"]: s for s in _list_all(ctx, "list_ip_sets", "IPSets")}
    return {
        v: summaries[ip_set_name(ctx.name, v)]
        for v in VERSIONS
        if ip_set_name(ctx.name, v) in summaries
    }


def find_web_acl(ctx: Context) -> dict[str, Any] | None:
    """The full web ACL and its lock token, or None."""
    return ctx.read_once("web_acl", _find_web_acl)


def _find_web_acl(ctx: Context) -> dict[str, Any] | None:
    name = web_acl_name(ctx.name)
    with aws_errors("Listing WAF web ACLs"):
        for summary in _list_all(ctx, "list_web_acls", "WebACLs"):
            if summary["Name"] == name:
                response = ctx.clients.wafv2.get_web_acl(
                    Name=name, Scope=WAF_SCOPE, Id=summary["Id"]
                )
                return {**response["WebACL"], "LockToken": response["LockToken"]}
    return None


def _visibility(metric: str) -> dict[str, Any]:
    return {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": metric,
    }


def _metric(ctx: Context) -> str:
    return f"{ctx.name}-edge".replace("-", "")


def web_acl_rules(ctx: Context) -> list[dict[str, Any]]:
    """The web ACL's rules, in priority order: the one place a rule is added."""
    links = ctx.config.access_links
    return [
        # Access links (opt-in) go first: their rate rule must see every request.
        *(waf_rules.access_link_rules(_metric(ctx), first_priority=1) if links else []),
        {
            "Name": RULE_NAME,
            "Priority": 3 if links else 1,
            "Action": {"Allow": {}},
            "Statement": {
                "OrStatement": {
                    "Statements": [
                        {"IPSetReferenceStatement": {"ARN": ctx.state["ip_set_v4_arn"]}},
                        {"IPSetReferenceStatement": {"ARN": ctx.state["ip_set_v6_arn"]}},
                    ]
                }
            },
            "VisibilityConfig": _visibility(f"{_metric(ctx)}allowoffice"),
        },
    ]


def desired_web_acl(ctx: Context) -> dict[str, Any]:
    links = ctx.config.access_links
    return {
        "DefaultAction": {
            "Block": {
                "CustomResponse": {"ResponseCode": 403, "CustomResponseBodyKey": BLOCK_BODY_KEY}
            }
        },
        "Rules": web_acl_rules(ctx),
        "CustomResponseBodies": {
            BLOCK_BODY_KEY: {
                "ContentType": "TEXT_HTML",
                "Content": waf_rules.block_page(
                    ctx.config.block_message, ctx.config.block_contact, access_links=links
                ),
            }
        },
        "VisibilityConfig": _visibility(_metric(ctx)),
    }


def _prune(value: Any) -> Any:
    """Drop None values and empty optional containers AWS (or moto) adds on read."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def summarize_web_acl(acl: dict[str, Any]) -> dict[str, Any]:
    return {
        "default_action": _prune(acl.get("DefaultAction")),
        "rules": [
            {
                k: v
                for k, v in _prune(rule).items()
                if k in ("Name", "Priority", "Action", "Statement", "VisibilityConfig")
            }
            for rule in acl.get("Rules", [])
        ],
        "custom_response_bodies": _prune(acl.get("CustomResponseBodies") or {}),
        "visibility_config": _prune(acl.get("VisibilityConfig")),
    }


def plan(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    existing = find_ip_sets(ctx)
    for version, aws_version in VERSIONS.items():
        key = f"ip_set_v{version}_arn"
        if version in existing:
            ctx.state[key] = existing[version]["ARN"]
            continue
        ctx.state[key] = UNKNOWN
        name = ip_set_name(ctx.name, version)

        def create(
            version: int = version, aws_version: str = aws_version, name: str = name, key: str = key
        ) -> None:
            response = ctx.clients.wafv2.create_ip_set(
                Name=name,
                Scope=WAF_SCOPE,
                IPAddressVersion=aws_version,
                Addresses=[],
                Description=ip_set_description(ctx.name, version),
                Tags=ctx.tags(),
            )
            ctx.state[key] = response["Summary"]["ARN"]
            ctx.created_ip_sets = True

        fields = [
            FieldChange("scope", None, WAF_SCOPE),
            FieldChange("ip_address_version", None, aws_version),
            FieldChange("addresses", None, "(seeded and then managed by the app)"),
        ]
        changes.append(Change.create("wafv2 ip set", name, create, fields))

    desired = desired_web_acl(ctx)
    name = web_acl_name(ctx.name)
    acl = find_web_acl(ctx)
    desired_summary = summarize_web_acl(desired)
    if acl is None:
        ctx.state["web_acl_arn"] = UNKNOWN

        def create_acl() -> None:
            body = desired_web_acl(ctx)  # the IP set ARNs are known by now
            # WAF answers WAFUnavailableEntityException for IP sets created a moment ago.
            response = retry_while(
                action=f"Creating WAF web ACL {name}",
                call=lambda: ctx.clients.wafv2.create_web_acl(
                    Name=name,
                    Scope=WAF_SCOPE,
                    Description=web_acl_description(ctx.name),
                    Tags=ctx.tags(),
                    **body,
                ),
                codes=NOT_USABLE_YET,
                out=ctx.out,
                interval=ctx.poll_interval,
            )
            ctx.state["web_acl_arn"] = response["Summary"]["ARN"]

        fields = [FieldChange(k, None, v) for k, v in _brief(desired_summary).items()]
        changes.append(Change.create("wafv2 web acl", name, create_acl, fields))
        return changes

    ctx.state["web_acl_arn"] = acl["ARN"]
    field_changes = diff(summarize_web_acl(acl), desired_summary)
    if field_changes:

        def update_acl() -> None:
            current = _find_web_acl(ctx)  # now, not as planned
            if current is None:
                raise DeployError(
                    f"WAF web ACL {name} was deleted after the plan was made: nothing was "
                    "updated. Run again to plan its creation."
                )
            # An adopted web ACL may have no description: send none rather than "", which
            # is below WAF's minimum length of 1.
            description = current.get("Description")
            extra = {"Description": description} if description else {}
            ctx.clients.wafv2.update_web_acl(
                Name=name,
                Scope=WAF_SCOPE,
                Id=current["Id"],
                LockToken=current["LockToken"],
                **extra,
                **desired_web_acl(ctx),
            )

        fields = _brief_fields(field_changes)
        changes.append(Change.update("wafv2 web acl", name, update_acl, fields))
    return changes


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    """The block page is long: show its size rather than the HTML in plans."""
    brief = dict(summary)
    bodies = brief.get("custom_response_bodies") or {}
    brief["custom_response_bodies"] = {
        k: _describe_body(v.get("ContentType"), v.get("Content", "")) for k, v in bodies.items()
    }
    return brief


def _describe_body(content_type: str | None, content: str) -> str:
    digest = hashlib.sha256(content.encode()).hexdigest()[:8]
    return f"{content_type} ({len(content)} chars, sha256 {digest})"


def _brief_fields(changes: list[FieldChange]) -> list[FieldChange]:
    out = []
    for fc in changes:
        if fc.field == "custom_response_bodies":
            old = _brief({"custom_response_bodies": fc.old or {}})["custom_response_bodies"]
            new = _brief({"custom_response_bodies": fc.new or {}})["custom_response_bodies"]
            out.append(FieldChange(fc.field, old, new))
        else:
            out.append(fc)
    return out


def plan_destroy(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    acl = find_web_acl(ctx)
    if acl is not None:
        name = acl["Name"]

        def delete_acl() -> None:
            current = _find_web_acl(ctx)  # now, not as planned
            if current is None:
                return
            # WAFAssociatedItemException while the distribution's deletion propagates.
            retry_while(
                action=f"Deleting WAF web ACL {name}",
                call=lambda: ctx.clients.wafv2.delete_web_acl(
                    Name=name, Scope=WAF_SCOPE, Id=current["Id"], LockToken=current["LockToken"]
                ),
                codes=STILL_IN_USE,
                out=ctx.out,
                interval=ctx.poll_interval,
            )

        changes.append(Change.delete("wafv2 web acl", name, delete_acl))
    for version, summary in sorted(find_ip_sets(ctx).items()):

        def delete_set(summary: dict[str, Any] = summary) -> None:
            current = _get_ip_set(ctx, summary)
            # WAFAssociatedItemException while the web ACL's deletion propagates.
            retry_while(
                action=f"Deleting WAF IP set {summary['Name']}",
                call=lambda: ctx.clients.wafv2.delete_ip_set(
                    Name=summary["Name"],
                    Scope=WAF_SCOPE,
                    Id=summary["Id"],
                    LockToken=current["LockToken"],
                ),
                codes=STILL_IN_USE,
                out=ctx.out,
                interval=ctx.poll_interval,
            )

        note = f"IPv{version}; the allowlist stays in the database"
        changes.append(Change.delete("wafv2 ip set", summary["Name"], delete_set, note=note))
    return changes


def outputs(ctx: Context) -> dict[str, str]:
    return {
        "web_acl_arn": ctx.state.get("web_acl_arn", ""),
        "ip_set_v4_arn": ctx.state.get("ip_set_v4_arn", ""),
        "ip_set_v6_arn": ctx.state.get("ip_set_v6_arn", ""),
    }
