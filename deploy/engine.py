"""Plan, apply and destroy one edge, in dependency order.

Order (create): WAF (IP sets, web ACL) -> WAF logging (log group, logging
configuration) -> S3 bucket + OAC -> security group -> ALB
(target group, load balancer, listeners, secret rule) -> CloudFront -> bucket policy
(needs the distribution ARN). Destroy runs the reverse.

Both start with the preflight (deploy/preflight.py): everything readable is checked
before the first write. Planning only reads. Applying re-plans each stage just before
applying it, so a stage sees the real ids its predecessors created, and changes only what
differs. Seeding goes by state, not by what this run created: whenever both IP sets are
empty and the app's allowlist has no active network, the config's initial CIDRs are added
through accesscontrol (the same code the app uses); from then on the sets' contents belong
to the app. So a run that failed after creating the sets seeds on the next --apply.

Every change is applied inside `aws_errors(change.title)`, so an AWS failure names the
change that failed. Reads remembered while planning (`ctx.read_once`: the distribution
listing, and every lookup by name that ownership, preflight and the stages share) are
forgotten at every entry point and after every write, and not remembered while a change
applies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy import (
    alb,
    cloudfront,
    origin_secret,
    ownership,
    preflight,
    s3,
    security_group,
    waf,
    waf_logging,
)
from deploy.aws import RETRY_FOR_SECONDS, RETRY_MAX_DELAY, aws_errors
from deploy.context import Context
from deploy.errors import DeployError
from deploy.plan import UNKNOWN, Change, render_change


@dataclass(frozen=True)
class Stage:
    name: str
    plan: Callable[[Context], list[Change]]
    destroy: Callable[[Context], list[Change]]


def _nothing(ctx: Context) -> list[Change]:
    return []


STAGES = [
    Stage("waf", waf.plan, waf.plan_destroy),
    # Needs the web ACL's ARN; destroyed before the web ACL (reverse order).
    Stage("waf logging", waf_logging.plan, waf_logging.plan_destroy),
    Stage("s3", s3.plan_bucket, s3.plan_destroy_bucket),
    Stage("security group", security_group.plan, security_group.plan_destroy),
    Stage("alb", alb.plan, alb.plan_destroy),
    Stage("origin secret rule", origin_secret.plan_rule, _nothing),  # goes with its listener
    Stage("cloudfront", cloudfront.plan, cloudfront.plan_destroy),
    Stage("bucket policy", s3.plan_policy, _nothing),
]


def _apply(ctx: Context, change: Change, done: list[Change]) -> None:
    """Print the change, apply it; an AWS failure names the change (its title)."""
    ctx.out("\n".join(render_change(change)))
    ctx.applying = True
    try:
        with aws_errors(change.title):
            change.apply()
    finally:
        ctx.applying = False
        ctx.reads.clear()  # what was read before may have changed
    done.append(change)


def plan(ctx: Context) -> list[Change]:
    """Every change --apply would make, without changing anything.

    Ownership comes first: a namesake this edge does not own is refused (or, with
    --adopt, planned to be tagged) before anything else is read from it, the origin
    secret included.
    """
    ctx.reads.clear()
    changes: list[Change] = ownership.plan(ctx)
    preflight.run(ctx)
    ctx.secret = origin_secret.resolve(ctx)
    for stage in STAGES:
        changes.extend(stage.plan(ctx))
    return changes


def apply(ctx: Context, *, seed: Callable[[Context], None] | None = None) -> list[Change]:
    """Apply stage by stage; returns the changes made."""
    done: list[Change] = []
    ctx.reads.clear()
    # Ownership is read first (no writes), then everything preflight can check; only then
    # the first write: tagging namesakes with --adopt.
    adoptions = ownership.plan(ctx)
    preflight.run(ctx)
    for change in adoptions:
        _apply(ctx, change, done)
    if ctx.secret is None:
        ctx.secret = origin_secret.resolve(ctx)
    for stage in STAGES:
        for change in stage.plan(ctx):
            _apply(ctx, change, done)
        if stage.name == "waf":
            (seed or seed_allowlist)(ctx)
            ctx.reads.clear()  # seeding wrote the IP sets
    return done


def plan_destroy(ctx: Context) -> list[Change]:
    """The deletions --destroy would make: only resources this edge owns (by tag).

    Namesakes it does not own are left out and listed in ctx.skipped.
    """
    changes: list[Change] = []
    ctx.reads.clear()
    for stage in reversed(STAGES):
        changes.extend(stage.destroy(ctx))
    kept, ctx.skipped = ownership.split_destroy(ctx, changes)
    return kept


def destroy(ctx: Context) -> list[Change]:
    done: list[Change] = []
    ctx.reads.clear()
    for stage in reversed(STAGES):
        planned = stage.destroy(ctx)
        kept, skipped = ownership.split_destroy(ctx, planned) if planned else ([], [])
        ctx.skipped = sorted(set(ctx.skipped) | set(skipped))
        for change in kept:
            _apply(ctx, change, done)
    return done


def seed_allowlist(ctx: Context) -> None:
    """Seed empty IP sets through the app's own code; leave non-empty ones to the app.

    By state: when both sets are empty, the initial CIDRs are added if the app's allowlist
    has no active network (allow_network records each, source "bootstrap", and syncs
    WAF), and a final sync_waf_ip_sets projects whatever the database holds (e.g. after a
    destroy and a new apply). Provisioning never writes IP set contents itself.
    """
    from django.core.exceptions import ValidationError

    from accesscontrol.exceptions import NetworkConflict
    from accesscontrol.models import AllowedNetwork
    from accesscontrol.services import allow_network, command_line_requester, sync_waf_ip_sets
    from accesscontrol.waf import WafIpSetGateway

    if any(waf.ip_set_addresses(ctx).values()):
        return  # the app manages the sets' contents
    gateway = WafIpSetGateway(ctx.clients.wafv2, edge_name=ctx.name)
    requester = command_line_requester("manage.py provision_infra")
    initial = () if AllowedNetwork.objects.active().exists() else ctx.config.initial_cidrs
    added: list[str] = []
    for cidr in initial:
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
            added.append(cidr)
        except NetworkConflict:
            ctx.out(f"    allowlist: {cidr} is already allowed")
        except ValidationError as exc:
            rerun = (
                f"{', '.join(added)} went in before it and the IP sets are no longer empty, so "
                "a re-run will not seed again: fix the entry, add it with `python manage.py "
                "allow_ip` (or the console), then run --apply again to build the rest."
                if added
                else "Fix the entry, then run --apply again: the IP sets are still empty, so "
                "it seeds them and builds the rest."
            )
            raise DeployError(
                f"{ctx.config.path}: key 'allowlist.initial_cidrs': {cidr} was refused: "
                f"{'; '.join(m.rstrip('.') for m in exc.messages)}. {seed_state(ctx)} {rerun}"
            ) from exc
    # IP sets created a moment ago may refuse writes for a while (WAFUnavailableEntity):
    # the sync leaves them pending, so sync again with backoff for a few minutes.
    started = time.monotonic()
    delay = max(ctx.poll_interval, 0.05) / 2
    while True:
        report = sync_waf_ip_sets(requester=requester, gateway=gateway)
        failed = [r for r in report.sets if r.status not in ("in_sync", "applied")]
        for result in failed:
            ctx.out(f"    allowlist sync of {result.name}: {result.status} {result.error}".rstrip())
        elapsed = time.monotonic() - started
        transient = all(r.status == "pending" for r in failed)
        if not failed or not transient or elapsed >= RETRY_FOR_SECONDS:
            break
        delay = min(delay * 2, RETRY_MAX_DELAY)
        ctx.out(f"    retrying the allowlist sync in {delay:.1f}s ({elapsed:.0f}s elapsed)")
        time.sleep(delay)
    if failed:
        raise DeployError(
            "Seeding the WAF IP sets failed: "
            + "; ".join(f"{r.name}: {r.status} {r.error}".rstrip() for r in failed)
            + f". {seed_state(ctx)} The allowlist is saved in the database; run --apply again (it "
            "syncs the empty IP sets from the database, then builds the rest), or run "
            "`python manage.py sync_waf`."
        )


# What exists when seeding stops, read back: said in every seeding failure, never a guess.
def seed_state(ctx: Context) -> str:
    try:
        held = sorted(a for addresses in waf.ip_set_addresses(ctx).values() for a in addresses)
    except DeployError:
        held = None
    holding = (
        "whose contents could not be read"
        if held is None
        else f"which hold only {', '.join(held)}"
        if held
        else "which are empty"
    )
    return (
        "The WAF IP sets and the web ACL exist (it blocks everyone not in the sets, "
        f"{holding}); nothing else was created or changed by this run after them."
    )


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
