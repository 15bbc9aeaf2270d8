"""The ALB side of the edge: target group (+ targets), the internet-facing ALB, the
HTTPS:443 listener (TLS 1.3 policy, fixed 403 by default) and HTTP:80 -> HTTPS redirect.
The HTTPS listener's one rule (header X-Origin-Verify equals the current, or during
rotation the previous, secret -> forward) has its shape here and its plan in
deploy/origin_secret.py.

The prefix list lets in every CloudFront distribution, anyone's; the secret header rule
is what makes only ours get through. Any other rule on the HTTPS listener is drift and is
removed.
"""

from __future__ import annotations

from typing import Any

from accesscontrol.edge import HEALTH_PATH, ORIGIN_FORBIDDEN_BODY, ORIGIN_HEADER
from deploy.aws import STILL_IN_USE, aws_errors, pages, read_or_none, retry_while, wait_until
from deploy.context import Context
from deploy.errors import DeployError
from deploy.plan import UNKNOWN, Change, FieldChange, diff

SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
RULE_PRIORITY = 10
HEALTH_CHECK = {
    "HealthCheckProtocol": "HTTP",
    "HealthCheckPath": HEALTH_PATH,
    "HealthCheckPort": "traffic-port",
    "HealthCheckIntervalSeconds": 15,
    "HealthCheckTimeoutSeconds": 5,
    "HealthyThresholdCount": 2,
    "UnhealthyThresholdCount": 3,
    "Matcher": {"HttpCode": "200"},
}
FORBIDDEN_ACTION = {
    "Type": "fixed-response",
    "FixedResponseConfig": {
        "StatusCode": "403",
        "ContentType": "application/json",
        # The same bytes the app's OriginSecretMiddleware answers with.
        "MessageBody": ORIGIN_FORBIDDEN_BODY,
    },
}
REDIRECT_ACTION = {
    "Type": "redirect",
    "RedirectConfig": {
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_301",
    },
}


def lb_name(edge_name: str) -> str:
    return f"{edge_name}-alb"


def tg_name(edge_name: str) -> str:
    return f"{edge_name}-app"


def forward_action(target_group_arn: str) -> dict[str, Any]:
    return {"Type": "forward", "TargetGroupArn": target_group_arn}


def normalize_action(action: dict[str, Any]) -> dict[str, Any]:
    kind = action["Type"]
    if kind == "forward":
        arn = action.get("TargetGroupArn")
        if not arn:
            groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
            arn = groups[0]["TargetGroupArn"] if len(groups) == 1 else groups
        return {"Type": kind, "TargetGroupArn": arn}
    if kind == "fixed-response":
        cfg = action.get("FixedResponseConfig", {})
        keys: tuple[str, ...] = ("StatusCode", "ContentType", "MessageBody")
        return {"Type": kind, "FixedResponseConfig": {k: cfg.get(k) for k in keys}}
    if kind == "redirect":
        cfg = action.get("RedirectConfig", {})
        keys = ("Protocol", "Port", "Host", "Path", "Query", "StatusCode")
        return {"Type": kind, "RedirectConfig": {k: cfg.get(k) for k in keys}}
    return {"Type": kind}


def header_condition(values: list[str]) -> dict[str, Any]:
    return {
        "Field": "http-header",
        "HttpHeaderConfig": {"HttpHeaderName": ORIGIN_HEADER, "Values": list(values)},
    }


def header_values(rule: dict[str, Any]) -> list[str] | None:
    """The X-Origin-Verify values of a rule, or None when it has no such condition."""
    for cond in rule.get("Conditions", []):
        cfg = cond.get("HttpHeaderConfig") or {}
        if (
            cond.get("Field") == "http-header"
            and cfg.get("HttpHeaderName", "").lower() == ORIGIN_HEADER.lower()
        ):
            return list(cfg.get("Values", []))
    return None


# --- reading -------------------------------------------------------------------------------


def find_load_balancer(ctx: Context) -> dict[str, Any] | None:
    return ctx.read_once("load_balancer", _find_load_balancer)


def _find_load_balancer(ctx: Context) -> dict[str, Any] | None:
    lbs = read_or_none(
        lambda: ctx.clients.elbv2.describe_load_balancers(Names=[lb_name(ctx.name)]),
        "LoadBalancerNotFound",
        action="Reading load balancers",
    )
    return lbs["LoadBalancers"][0] if lbs and lbs["LoadBalancers"] else None


def find_target_group(ctx: Context) -> dict[str, Any] | None:
    return ctx.read_once("target_group", _find_target_group)


def _find_target_group(ctx: Context) -> dict[str, Any] | None:
    groups = read_or_none(
        lambda: ctx.clients.elbv2.describe_target_groups(Names=[tg_name(ctx.name)]),
        "TargetGroupNotFound",
        action="Reading target groups",
    )
    return groups["TargetGroups"][0] if groups and groups["TargetGroups"] else None


def find_listeners(ctx: Context, lb_arn: str) -> dict[int, dict[str, Any]]:
    def read(ctx: Context) -> dict[int, dict[str, Any]]:
        with aws_errors("Reading listeners"):
            listeners = ctx.clients.elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
        return {listener["Port"]: listener for listener in listeners}

    return ctx.read_once(f"listeners {lb_arn}", read)


def find_rules(ctx: Context, listener_arn: str) -> list[dict[str, Any]]:
    """Every non-default rule of the listener."""

    def read(ctx: Context) -> list[dict[str, Any]]:
        with aws_errors("Reading listener rules"):
            rules = pages(ctx.clients.elbv2, "describe_rules", "Rules", ListenerArn=listener_arn)
            return [r for r in rules if not r.get("IsDefault")]

    return ctx.read_once(f"rules {listener_arn}", read)


# --- planning ------------------------------------------------------------------------------


def _listener_summary(listener: dict[str, Any]) -> dict[str, Any]:
    certs = listener.get("Certificates") or []
    return {
        "protocol": listener.get("Protocol"),
        # Only HTTPS listeners negotiate TLS; ignore whatever an HTTP listener reports.
        "ssl_policy": listener.get("SslPolicy") if listener.get("Protocol") == "HTTPS" else None,
        "certificate": certs[0]["CertificateArn"] if certs else None,
        "default_actions": [normalize_action(a) for a in listener.get("DefaultActions", [])],
    }


def _desired_listeners(ctx: Context) -> dict[int, dict[str, Any]]:
    return {
        443: {
            "Protocol": "HTTPS",
            "SslPolicy": SSL_POLICY,
            "Certificates": [{"CertificateArn": ctx.config.origin_certificate_arn}],
            "DefaultActions": [FORBIDDEN_ACTION],
        },
        80: {"Protocol": "HTTP", "DefaultActions": [REDIRECT_ACTION]},
    }


def _targets(pairs: set[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"Id": i, "Port": p} for i, p in sorted(pairs)]


def _plan_target_group(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    elbv2 = ctx.clients.elbv2
    name = tg_name(ctx.name)
    config = ctx.config
    tg = find_target_group(ctx)
    health = {k.removeprefix("HealthCheck") or k: v for k, v in HEALTH_CHECK.items()}
    registered: set[tuple[str, int]] = set()
    if tg is None:
        ctx.state["target_group_arn"] = UNKNOWN

        def create() -> None:
            response = elbv2.create_target_group(
                Name=name,
                Protocol="HTTP",
                ProtocolVersion="HTTP1",
                Port=config.target_port,
                VpcId=config.vpc_id,
                TargetType=config.target_type,
                Tags=ctx.tags(),
                **HEALTH_CHECK,
            )
            ctx.state["target_group_arn"] = response["TargetGroups"][0]["TargetGroupArn"]

        target = f"HTTP:{config.target_port} ({config.target_type})"
        fields = [FieldChange("target", None, target), FieldChange("health_check", None, health)]
        changes.append(Change.create("alb target group", name, create, fields))
    else:
        ctx.state["target_group_arn"] = tg["TargetGroupArn"]
        fixed = {
            "Protocol": "HTTP",
            "Port": config.target_port,
            "VpcId": config.vpc_id,
            "TargetType": config.target_type,
        }
        for key, value in fixed.items():
            if tg.get(key) != value:
                raise DeployError(
                    f"Target group {name} has {key} {tg.get(key)!r} but the config asks for "
                    f"{value!r}, which AWS cannot change in place. Run provision_infra --destroy "
                    "and --apply again (or restore the old value in the config)."
                )
        actual = {k.removeprefix("HealthCheck") or k: tg.get(k) for k in HEALTH_CHECK}
        field_changes = diff({"health_check": actual}, {"health_check": health})
        if field_changes:

            def update() -> None:
                elbv2.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], **HEALTH_CHECK)

            changes.append(Change.update("alb target group", name, update, field_changes))
        with aws_errors(f"Reading targets of {name}"):
            health_descriptions = elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
        registered = {
            (d["Target"]["Id"], d["Target"].get("Port", config.target_port))
            for d in health_descriptions["TargetHealthDescriptions"]
        }

    wanted = {(t, config.target_port) for t in config.target_ids}
    if wanted != registered:

        def register() -> None:
            arn = ctx.state["target_group_arn"]
            if wanted - registered:
                elbv2.register_targets(TargetGroupArn=arn, Targets=_targets(wanted - registered))
            if registered - wanted:
                elbv2.deregister_targets(TargetGroupArn=arn, Targets=_targets(registered - wanted))

        old = sorted(f"{i}:{p}" for i, p in registered) or None
        fields = [FieldChange("targets", old, sorted(f"{i}:{p}" for i, p in wanted))]
        make = Change.update if registered else Change.create
        changes.append(make("alb targets", name, register, fields))
    return changes


def _wait_active(ctx: Context, arn: str) -> None:
    def poll() -> tuple[bool, str]:
        with aws_errors("Reading the load balancer"):
            response = ctx.clients.elbv2.describe_load_balancers(LoadBalancerArns=[arn])
        lb = response["LoadBalancers"][0]
        state = lb["State"]["Code"]
        if state == "failed":
            raise DeployError(f"The ALB failed to provision: {lb['State'].get('Reason', '')}")
        return state == "active", state

    wait_until(label="ALB", poll=poll, out=ctx.out, interval=ctx.poll_interval, timeout=900)


def _plan_load_balancer(ctx: Context) -> list[Change]:
    elbv2 = ctx.clients.elbv2
    name = lb_name(ctx.name)
    lb = find_load_balancer(ctx)
    subnets = sorted(ctx.config.subnet_ids)
    if lb is None:
        ctx.state["load_balancer_arn"] = UNKNOWN
        ctx.state["alb_dns_name"] = UNKNOWN

        def create() -> None:
            response = elbv2.create_load_balancer(
                Name=name,
                Subnets=subnets,
                SecurityGroups=[ctx.state["security_group_id"]],
                Scheme="internet-facing",
                Type="application",
                IpAddressType="ipv4",
                Tags=ctx.tags(),
            )
            created = response["LoadBalancers"][0]
            ctx.state["load_balancer_arn"] = created["LoadBalancerArn"]
            ctx.state["alb_dns_name"] = created["DNSName"]
            _wait_active(ctx, created["LoadBalancerArn"])

        fields = [
            FieldChange("scheme", None, "internet-facing"),
            FieldChange("subnets", None, subnets),
            FieldChange("security_groups", None, [ctx.state["security_group_id"]]),
        ]
        return [Change.create("alb load balancer", name, create, fields)]
    ctx.state["load_balancer_arn"] = lb["LoadBalancerArn"]
    ctx.state["alb_dns_name"] = lb["DNSName"]
    if lb.get("Scheme") != "internet-facing":
        raise DeployError(
            f"Load balancer {name} is {lb.get('Scheme')}, not internet-facing, and AWS cannot "
            "change that in place. Delete it (provision_infra --destroy) and apply again."
        )
    actual = {
        "subnets": sorted(z["SubnetId"] for z in lb.get("AvailabilityZones", [])),
        "security_groups": sorted(lb.get("SecurityGroups", [])),
    }
    desired = {"subnets": subnets, "security_groups": [ctx.state["security_group_id"]]}
    field_changes = diff(actual, desired)
    if not field_changes:
        return []

    def update() -> None:
        arn = lb["LoadBalancerArn"]
        if actual["subnets"] != desired["subnets"]:
            elbv2.set_subnets(LoadBalancerArn=arn, Subnets=subnets)
        if actual["security_groups"] != desired["security_groups"]:
            elbv2.set_security_groups(
                LoadBalancerArn=arn, SecurityGroups=desired["security_groups"]
            )

    return [Change.update("alb load balancer", name, update, field_changes)]


def _plan_listeners(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    elbv2 = ctx.clients.elbv2
    lb_arn = ctx.state["load_balancer_arn"]
    existing = {} if lb_arn == UNKNOWN else find_listeners(ctx, lb_arn)
    for port, spec in _desired_listeners(ctx).items():
        label = f"{lb_name(ctx.name)}:{port}"
        desired = _listener_summary(spec)
        listener = existing.get(port)
        key = f"listener_{port}_arn"
        if listener is None:
            ctx.state[key] = UNKNOWN

            def create(port: int = port, spec: dict[str, Any] = spec, key: str = key) -> None:
                response = elbv2.create_listener(
                    LoadBalancerArn=ctx.state["load_balancer_arn"],
                    Port=port,
                    Tags=ctx.tags(),
                    **spec,
                )
                ctx.state[key] = response["Listeners"][0]["ListenerArn"]

            fields = [FieldChange(k, None, v) for k, v in desired.items() if v is not None]
            changes.append(Change.create("alb listener", label, create, fields))
            continue
        ctx.state[key] = listener["ListenerArn"]
        field_changes = diff(_listener_summary(listener), desired)
        if field_changes:

            def update(
                listener: dict[str, Any] = listener, spec: dict[str, Any] = spec, port: int = port
            ) -> None:
                elbv2.modify_listener(ListenerArn=listener["ListenerArn"], Port=port, **spec)

            changes.append(Change.update("alb listener", label, update, field_changes))
    return changes


def plan(ctx: Context) -> list[Change]:
    # The subnets and the certificate were checked in preflight (deploy/checks.py).
    # The listener's secret rule is planned by deploy/origin_secret.py, right after this.
    return _plan_target_group(ctx) + _plan_load_balancer(ctx) + _plan_listeners(ctx)


def plan_destroy(ctx: Context) -> list[Change]:
    changes: list[Change] = []
    elbv2 = ctx.clients.elbv2
    lb = find_load_balancer(ctx)
    if lb is not None:
        for port, listener in sorted(find_listeners(ctx, lb["LoadBalancerArn"]).items()):

            def delete_listener(listener: dict[str, Any] = listener) -> None:
                elbv2.delete_listener(ListenerArn=listener["ListenerArn"])

            label = f"{lb['LoadBalancerName']}:{port}"
            changes.append(
                Change.delete("alb listener", label, delete_listener, note="with its rules")
            )

        def delete_lb() -> None:
            elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])

            def gone() -> tuple[bool, str]:
                return _find_load_balancer(ctx) is None, "deleting"

            wait_until(
                label="ALB deletion",
                poll=gone,
                out=ctx.out,
                interval=ctx.poll_interval,
                timeout=900,
            )

        changes.append(Change.delete("alb load balancer", lb["LoadBalancerName"], delete_lb))
    tg = find_target_group(ctx)
    if tg is not None:

        def delete_tg() -> None:
            # ResourceInUse while the load balancer's deletion propagates.
            retry_while(
                action=f"Deleting target group {tg['TargetGroupName']}",
                call=lambda: elbv2.delete_target_group(TargetGroupArn=tg["TargetGroupArn"]),
                codes=STILL_IN_USE,
                out=ctx.out,
                interval=ctx.poll_interval,
            )

        note = "targets are deregistered, not stopped"
        changes.append(
            Change.delete("alb target group", tg["TargetGroupName"], delete_tg, note=note)
        )
    return changes
