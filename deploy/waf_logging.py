"""WAF logging: the web ACL's full request logs into CloudWatch Logs.

- Log group `aws-waf-logs-<edge>` in us-east-1 (WAF for CloudFront is global and delivers
  in us-east-1; WAF refuses a destination whose name lacks the `aws-waf-logs-` prefix),
  tagged `gatehouse:edge=<name>`, with the config's retention (logging.waf_retention_days,
  one of the values CloudWatch Logs offers; config.py checks it).
- The web ACL's logging configuration (wafv2 PutLoggingConfiguration): destination = the
  log group's ARN without the `:*` suffix DescribeLogGroups' `arn` carries (WAF wants
  `logGroupArn`'s form), the `authorization` and `cookie` headers redacted, no filter.

The resource policy that lets WAF's log delivery write to the group is CloudWatch Logs'
own (`AWSLogDeliveryWrite...`): AWS adds or widens it when logging is turned on, as the
CloudWatch Logs guide ("Logs sent to CloudWatch Logs") says for WAF, with the caller's
logs:CreateLogDelivery, PutResourcePolicy, DescribeResourcePolicies and DescribeLogGroups
(deploy/iam.py). We do not write that account-wide policy ourselves: an account has ten
per region, shared with every other service's log delivery.

Drift: a changed retention, destination, redaction or an added filter is planned back.
Destroy removes the logging configuration, then the log group (and the logs in it).
"""

from __future__ import annotations

from typing import Any

from accesscontrol.edge import web_acl_name
from deploy import waf
from deploy.aws import aws_errors, pages, read_or_none
from deploy.context import Context
from deploy.plan import UNKNOWN, Change, FieldChange, diff

LOG_GROUP_PREFIX = "aws-waf-logs-"
REDACTED_HEADERS = ("authorization", "cookie")
STATE_KEY = "waf_log_group_arn"
LOG_GROUP = "logs log group"
LOGGING = "wafv2 logging configuration"


def log_group_name(edge_name: str) -> str:
    return f"{LOG_GROUP_PREFIX}{edge_name}"


def find_log_group(ctx: Context) -> dict[str, Any] | None:
    """The edge's WAF log group, read once per plan (ownership and the plan both ask)."""
    return ctx.read_once("waf_log_group", _read_log_group)


def _read_log_group(ctx: Context) -> dict[str, Any] | None:
    name = log_group_name(ctx.name)
    with aws_errors(f"Reading CloudWatch Logs log group {name}"):
        for group in pages(
            ctx.clients.waf_logs, "describe_log_groups", "logGroups", logGroupNamePrefix=name
        ):
            if group["logGroupName"] == name:
                return dict(group)
    return None


def group_arn(group: dict[str, Any]) -> str:
    """The ARN WAF takes: without DescribeLogGroups' trailing ":*"."""
    return str(group.get("logGroupArn") or group["arn"].removesuffix(":*"))


def log_group_tags(ctx: Context, arn: str) -> dict[str, str]:
    with aws_errors(f"Reading tags of {arn}"):
        response = ctx.clients.waf_logs.list_tags_for_resource(resourceArn=arn)
    return dict(response.get("tags") or {})


def read_logging(ctx: Context, acl_arn: str) -> dict[str, Any] | None:
    if acl_arn in ("", UNKNOWN):
        return None
    response = read_or_none(
        lambda: ctx.clients.wafv2.get_logging_configuration(ResourceArn=acl_arn),
        "WAFNonexistentItemException",
        action=f"Reading the logging configuration of WAF web ACL {web_acl_name(ctx.name)}",
    )
    return None if response is None else dict(response["LoggingConfiguration"])


def desired_logging(acl_arn: str, destination: str) -> dict[str, Any]:
    return {
        "ResourceArn": acl_arn,
        "LogDestinationConfigs": [destination],
        "RedactedFields": [{"SingleHeader": {"Name": h}} for h in REDACTED_HEADERS],
    }


def summarize_logging(config: dict[str, Any]) -> dict[str, Any]:
    redacted = config.get("RedactedFields") or []
    return {
        "destinations": sorted(config.get("LogDestinationConfigs") or []),
        "redacted_headers": sorted(
            str(f["SingleHeader"]["Name"]).lower() for f in redacted if "SingleHeader" in f
        ),
        "other_redactions": sorted(k for f in redacted for k in f if k != "SingleHeader"),
        "logging_filter": config.get("LoggingFilter") or None,
    }


def plan(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    name = log_group_name(ctx.name)
    retention = ctx.config.waf_log_retention_days
    logs = ctx.clients.waf_logs
    group = find_log_group(ctx)

    def put_retention() -> None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention)

    if group is None:
        ctx.state[STATE_KEY] = UNKNOWN

        def create_group() -> None:
            tags = {t["Key"]: t["Value"] for t in ctx.tags()}
            logs.create_log_group(logGroupName=name, tags=tags)
            put_retention()
            created = _read_log_group(ctx)
            ctx.state[STATE_KEY] = group_arn(created) if created else UNKNOWN

        fields = [
            FieldChange("region", None, "us-east-1"),
            FieldChange("retention_in_days", None, retention),
        ]
        changes.append(Change.create(LOG_GROUP, name, create_group, fields))
    else:
        ctx.state[STATE_KEY] = group_arn(group)
        if group.get("retentionInDays") != retention:
            fields = [FieldChange("retention_in_days", group.get("retentionInDays"), retention)]
            changes.append(Change.update(LOG_GROUP, name, put_retention, fields))

    acl_arn = str(ctx.state.get("web_acl_arn", UNKNOWN))
    current = read_logging(ctx, acl_arn)
    wanted = summarize_logging(desired_logging(acl_arn, ctx.state[STATE_KEY]))

    def put_logging() -> None:
        body = desired_logging(ctx.state["web_acl_arn"], ctx.state[STATE_KEY])
        ctx.clients.wafv2.put_logging_configuration(LoggingConfiguration=body)

    acl_name = web_acl_name(ctx.name)
    if current is None:
        fields = [FieldChange(k, None, v) for k, v in wanted.items() if v]
        changes.append(Change.create(LOGGING, acl_name, put_logging, fields))
    elif field_changes := diff(summarize_logging(current), wanted):
        changes.append(Change.update(LOGGING, acl_name, put_logging, field_changes))
    return changes


def plan_destroy(ctx: Context) -> list[Change]:
    """The logging configuration first (it names the group), then the group."""
    changes: list[Change] = []
    acl = waf.find_web_acl(ctx)
    if acl is not None and read_logging(ctx, acl["ARN"]) is not None:
        arn = acl["ARN"]

        def delete_logging() -> None:
            read_or_none(
                lambda: ctx.clients.wafv2.delete_logging_configuration(ResourceArn=arn),
                "WAFNonexistentItemException",
                action=f"Deleting the logging configuration of WAF web ACL {acl['Name']}",
            )

        changes.append(Change.delete(LOGGING, acl["Name"], delete_logging))
    group = find_log_group(ctx)
    if group is not None:
        name = group["logGroupName"]

        def delete_group() -> None:
            read_or_none(
                lambda: ctx.clients.waf_logs.delete_log_group(logGroupName=name),
                "ResourceNotFoundException",
                action=f"Deleting CloudWatch Logs log group {name}",
            )

        changes.append(
            Change.delete(LOG_GROUP, name, delete_group, note="the WAF logs in it go too")
        )
    return changes
