"""`provision_infra --verify`: check the live edge end to end against the config.

Reads only (AWS, the database, two HTTP GETs); changes nothing. Each check is one row:

- the distribution (found by tag) is deployed, enabled and has this edge's web ACL;
- the ALB's security group admits only CloudFront's origin-facing prefix list, on 443;
- the ALB's secret rule accepts exactly the secret the distribution sends;
- `<edge>/api/health` answers 200 through the edge (CloudFront, WAF, ALB, app);
- `<origin>/api/auth/session` without the secret answers 403 (the ALB's default action,
  or the app's own check);
- the WAF IP sets equal the database (the app's own sync, as a dry run).

The HTTP checks go to https://<first app hostname> and https://<origin hostname> unless
--edge-url / --origin-url say otherwise (the local stack's ports). Secret values never
appear in the table.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accesscontrol.edge import HEALTH_PATH, web_acl_name
from deploy import cloudfront, origin_secret, security_group, waf
from deploy.aws import aws_errors
from deploy.context import Context
from deploy.errors import DeployError

HTTP_TIMEOUT = 15.0
GUARDED_PATH = "/api/auth/session"  # any path but the health check needs the secret


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def _distribution(ctx: Context) -> tuple[bool, str]:
    dist = cloudfront.find_distribution(ctx)
    if dist is None:
        return False, f"no distribution tagged gatehouse:edge={ctx.name}; run --apply"
    acl = waf.find_web_acl(ctx)
    config, _ = cloudfront.get_config(ctx, dist["Id"])
    with aws_errors("Reading the distribution"):
        status = ctx.clients.cloudfront.get_distribution(Id=dist["Id"])["Distribution"]["Status"]
    problems = []
    if status != "Deployed":
        problems.append(f"status {status} (wait for it, then verify again)")
    if not config.get("Enabled"):
        problems.append("disabled")
    if acl is None:
        problems.append(f"web ACL {web_acl_name(ctx.name)} is missing")
    elif config.get("WebACLId") != acl["ARN"]:
        problems.append(f"web ACL is {config.get('WebACLId') or '(none)'}, not {acl['ARN']}")
    if problems or acl is None:  # (a missing web ACL is one of the problems)
        return False, f"{dist['Id']}: " + "; ".join(problems)
    return True, f"{dist['Id']} Deployed with {acl['Name']}"


def _security_group(ctx: Context) -> tuple[bool, str]:
    group = security_group.find_group(ctx)
    if group is None:
        return False, f"security group {security_group.group_name(ctx.name)} is missing"
    pl_id = security_group.prefix_list_id(ctx)
    actual = security_group._rules(group.get("IpPermissions", []))
    wanted = security_group._rules([security_group.desired_permission(pl_id)])
    extra = sorted(set(actual) - set(wanted))
    missing = sorted(set(wanted) - set(actual))
    if extra or missing:
        parts = []
        if extra:
            parts.append("also admits " + ", ".join(extra))
        if missing:
            parts.append("lacks " + ", ".join(missing))
        return False, f"{group['GroupId']}: " + "; ".join(parts)
    return True, f"{group['GroupId']}: only {', '.join(sorted(wanted))}"


def _secret_rule(ctx: Context) -> tuple[bool, str]:
    sent = origin_secret.sent(ctx)
    accepted = origin_secret.accepted(ctx)
    if sent is None:
        return False, "the distribution sends no X-Origin-Verify header"
    if not accepted:
        return False, "the HTTPS listener has no X-Origin-Verify rule"
    if accepted != [sent]:
        if sent in accepted:
            return False, (
                f"the rule accepts {len(accepted)} values, the distribution's and another "
                "(an unfinished rotation?): run --rotate-origin-secret or --apply"
            )
        return False, "the rule does not accept the secret the distribution sends"
    return True, "the rule accepts exactly the distribution's secret"


def http_status(url: str) -> int:
    """GET url, no redirects followed; the status code (raises URLError if unreachable)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"User-Agent": "gatehouse-verify"})  # noqa: S310
    try:
        with opener.open(request, timeout=HTTP_TIMEOUT) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def _expect_status(url: str, expected: int, meaning: str) -> tuple[bool, str]:
    try:
        status = http_status(url)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"GET {url}: unreachable ({reason})"
    if status != expected:
        return False, f"GET {url}: {status}, expected {expected} ({meaning})"
    return True, f"GET {url}: {status}"


def _waf_matches_database(ctx: Context) -> tuple[bool, str]:
    from accesscontrol.services import sync_waf_ip_sets
    from accesscontrol.waf import WafIpSetGateway

    gateway = WafIpSetGateway(ctx.clients.wafv2, edge_name=ctx.name)
    report = sync_waf_ip_sets(dry_run=True, gateway=gateway)
    problems = []
    for result in report.sets:
        if result.error:
            problems.append(f"{result.name}: {result.error}")
            continue
        differences = [
            f"{len(values)} {label}"
            for label, values in (
                ("to add", result.to_add),
                ("to remove", result.to_remove),
                ("added outside Gatehouse", result.adopted),
            )
            if values
        ]
        if differences:
            problems.append(f"{result.name}: {', '.join(differences)}")
    if problems:
        return False, "; ".join(problems) + " (`manage.py sync_waf` converges)"
    return True, ", ".join(r.name for r in report.sets) + " equal the active allowlist"


def run_checks(
    ctx: Context, *, edge_url: str | None = None, origin_url: str | None = None
) -> list[CheckResult]:
    edge = (edge_url or f"https://{ctx.config.app_hostnames[0]}").rstrip("/")
    origin = (origin_url or f"https://{ctx.config.origin_hostname}").rstrip("/")
    checks: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("distribution deployed with the web ACL", lambda: _distribution(ctx)),
        ("security group admits only CloudFront", lambda: _security_group(ctx)),
        ("ALB rule accepts the distribution's secret", lambda: _secret_rule(ctx)),
        (
            "health answers 200 through the edge",
            lambda: _expect_status(edge + HEALTH_PATH, 200, "the edge does not reach the app"),
        ),
        (
            "origin refuses requests without the secret",
            lambda: _expect_status(
                origin + GUARDED_PATH, 403, "the origin answers without the secret header"
            ),
        ),
        ("WAF IP sets equal the database", lambda: _waf_matches_database(ctx)),
    ]
    results = []
    for name, check in checks:
        try:
            ok, detail = check()
        except DeployError as exc:
            ok, detail = False, str(exc)
        results.append(CheckResult(name, ok, detail))
    return results


def render_table(results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {'ok' if r.ok else 'FAIL':<6}  {r.detail}")
    return "\n".join(lines)
