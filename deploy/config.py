"""The edge config file: a TOML file (read with tomllib) that describes one edge.

`load_config(path)` returns an immutable `EdgeConfig` or raises `ConfigError` naming the
file, the key, what is wrong and what to do. It validates everything that can be checked
without AWS (types, unknown and missing keys, ARNs and their regions, CIDRs, subnet count),
so a bad file never reaches an AWS call. Checks that need AWS (subnets in different AZs,
the origin hostname on the ALB certificate) run in the plan, before anything changes.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.errors import ConfigError
from deploy.waf_rules import block_page  # the page WAF will serve, built the same way

CLOUDFRONT_CERT_REGION = "us-east-1"
# ALB names and target group names are limited to 32 characters; "<name>-alb" must fit.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,26}[a-z0-9]$")
ACM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:acm:([a-z0-9-]+):(\d{12}):certificate/[A-Za-z0-9-]+$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# S3 general purpose bucket naming rules (AWS docs "Bucket naming rules").
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# Tags: every service we tag allows 50 per resource, keys of 1-128 and values of 0-256
# characters of letters, digits, white space and _ . : / = + - @; `aws:` is reserved.
MAX_TAGS = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_PUNCTUATION = set("_.:/=+-@")
# WAF refuses a custom response body over 4 KB (it counts bytes of the UTF-8 content).
BLOCK_BODY_MAX_BYTES = 4096


def _known_regions() -> set[str]:
    """Regions with an ALB endpoint in botocore's bundled endpoint data (offline): the
    pattern alone lets typos like 'eu-westt-1' through."""
    import botocore.session

    session = botocore.session.get_session()
    return {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("elbv2", partition_name=partition)
    }


DEFAULT_BLOCK_MESSAGE = (
    "Access to this site is limited to allowed networks. Ask an administrator to add your network."
)


# CloudWatch Logs' PutRetentionPolicy accepts only these (botocore's documentation of
# retentionInDays; the model itself has no enum, so nothing checks it before AWS does).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
DEFAULT_WAF_LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class EdgeConfig:
    """One edge, as the config file describes it. Field docs live in edge.example.toml."""

    path: Path
    name: str
    region: str
    app_hostnames: tuple[str, ...]
    app_certificate_arn: str
    origin_hostname: str
    origin_certificate_arn: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    target_ids: tuple[str, ...]
    target_port: int
    frontend_bucket: str
    initial_cidrs: tuple[str, ...] = ()
    block_message: str = DEFAULT_BLOCK_MESSAGE
    block_contact: str = ""
    access_links: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    # WAF logs (CloudWatch Logs group aws-waf-logs-<name>): days kept.
    waf_log_retention_days: int = DEFAULT_WAF_LOG_RETENTION_DAYS

    @property
    def target_type(self) -> str:
        """ "ip" when targets are addresses, else "instance" (ids like i-0abc...)."""
        if self.target_ids and all(_is_ip(t) for t in self.target_ids):
            return "ip"
        return "instance"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# key -> (type, required). Sections are nested dicts of the same shape.
SCHEMA: dict[str, Any] = {
    "name": (str, True),
    "region": (str, True),
    "app": {
        "hostnames": (list, True),
        "certificate_arn": (str, True),
    },
    "origin": {
        "hostname": (str, True),
        "certificate_arn": (str, True),
    },
    "network": {
        "vpc_id": (str, True),
        "subnet_ids": (list, True),
    },
    "targets": {
        "ids": (list, False),
        "port": (int, True),
    },
    "frontend": {
        "bucket": (str, True),
    },
    "allowlist": {
        "initial_cidrs": (list, False),
        "block_message": (str, False),
        "block_contact": (str, False),
    },
    "access_links": {
        "enabled": (bool, False),
    },
    "logging": {
        "waf_retention_days": (int, False),
    },
    "tags": (dict, False),
}
TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    list: "a list",
    dict: "a table",
    bool: "a boolean",
}
REQUIRED_SECTIONS = {"app", "origin", "network", "targets", "frontend"}


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str, todo: str) -> ConfigError:
        return ConfigError(f"{self.path}: key '{key}': {problem}. {todo}")

    def walk(self, data: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> None:
        for key in data:
            full = f"{prefix}{key}"
            if key not in schema:
                known = ", ".join(sorted(schema))
                raise self.fail(
                    full,
                    "unknown key",
                    f"Remove it or fix its spelling; keys allowed here: {known}.",
                )
        for key, spec in schema.items():
            full = f"{prefix}{key}"
            if isinstance(spec, dict):
                if key not in data:
                    if key in REQUIRED_SECTIONS:
                        raise self.fail(
                            full,
                            "missing section",
                            f"Add a [{full}] table (see deploy/edge.example.toml).",
                        )
                    continue
                if not isinstance(data[key], dict):
                    raise self.fail(full, "must be a table", f"Write it as [{full}].")
                self.walk(data[key], spec, prefix=f"{full}.")
                continue
            kind, required = spec
            if key not in data:
                if required:
                    raise self.fail(
                        full,
                        "missing required key",
                        "Add it (see deploy/edge.example.toml for its meaning).",
                    )
                continue
            value = data[key]
            # bool is an int in Python; a port of `true` is still wrong.
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise self.fail(
                    full,
                    f"must be {TYPE_NAMES[kind]}, got "
                    f"{TYPE_NAMES.get(type(value), 'something else')} {value!r}",
                    "Fix its value.",
                )
            if kind is list and not all(isinstance(item, str) for item in value):
                raise self.fail(full, "must be a list of strings", "Quote every entry.")


def _check_cert(check: _Checker, key: str, arn: str, region: str, why: str) -> None:
    match = ACM_ARN.match(arn)
    if not match:
        raise check.fail(
            key,
            f"{arn!r} is not an ACM certificate ARN",
            "Copy the ARN from the ACM console (arn:aws:acm:<region>:<account>:certificate/<id>).",
        )
    if match.group(1) != region:
        raise check.fail(
            key,
            f"the certificate is in region {match.group(1)}, but {why} {region}",
            f"Request or import the certificate in ACM in {region} and use that ARN.",
        )


def bucket_name_problem(bucket: str) -> str:
    """What breaks S3's bucket naming rules, or "" when the name is valid."""
    if not 3 <= len(bucket) <= 63:
        return f"it has {len(bucket)} characters, not 3-63"
    if not BUCKET.match(bucket):
        return (
            "only lower-case letters, digits, '-' and '.' are allowed, first and last a "
            "letter or digit"
        )
    if ".." in bucket:
        return "two adjacent periods"
    if _is_ip(bucket):
        return "it is formatted as an IP address"
    for prefix in BUCKET_RESERVED_PREFIXES:
        if bucket.startswith(prefix):
            return f"the prefix {prefix!r} is reserved"
    for suffix in BUCKET_RESERVED_SUFFIXES:
        if bucket.endswith(suffix):
            return f"the suffix {suffix!r} is reserved"
    return ""


def _tag_text_ok(text: str) -> bool:
    return all(
        c.isalnum() or unicodedata.category(c).startswith("Z") or c in TAG_PUNCTUATION for c in text
    )


def _check_tags(check: _Checker, tags: dict[str, Any]) -> None:
    # One tag (gatehouse:edge) is ours on every resource.
    if len(tags) > MAX_TAGS - 1:
        raise check.fail(
            "tags",
            f"{len(tags)} tags, but AWS allows {MAX_TAGS} per resource and Gatehouse adds one",
            f"Keep at most {MAX_TAGS - 1} tags.",
        )
    for key, value in tags.items():
        full = f"tags.{key}"
        if not isinstance(value, str):
            raise check.fail(full, "tag values must be strings", "Quote the value.")
        if key.startswith("gatehouse:"):
            raise check.fail(full, "the 'gatehouse:' prefix is reserved", "Choose another tag key.")
        if key.lower().startswith("aws:"):
            raise check.fail(
                full, "the 'aws:' prefix is reserved for AWS", "Choose another tag key."
            )
        if not 1 <= len(key) <= TAG_KEY_MAX:
            raise check.fail(full, f"tag keys have 1-{TAG_KEY_MAX} characters", "Shorten the key.")
        if len(value) > TAG_VALUE_MAX:
            raise check.fail(
                full,
                f"the value has {len(value)} characters; AWS allows {TAG_VALUE_MAX}",
                "Shorten the value.",
            )
        for what, text in (("key", key), ("value", value)):
            if not _tag_text_ok(text):
                raise check.fail(
                    full,
                    f"the tag {what} {text!r} has characters AWS refuses",
                    "Use letters, digits, spaces and _ . : / = + - @ only.",
                )


def _check_block_message(
    check: _Checker, message: str, contact: str = "", *, access_links: bool = False
) -> None:
    # The message alone first, so the error names the key that made the page too big.
    for key, page, todo in (
        ("allowlist.block_message", block_page(message), "Shorten the message."),
        (
            "allowlist.block_contact",
            block_page(message, contact, access_links=access_links),
            "Shorten the contact line (or the message).",
        ),
    ):
        size = len(page.encode("utf-8"))
        if size > BLOCK_BODY_MAX_BYTES:
            raise check.fail(
                key,
                f"the block page would be {size} bytes; WAF allows {BLOCK_BODY_MAX_BYTES} "
                "bytes for a custom response body",
                todo,
            )


def load_config(path: str | Path) -> EdgeConfig:
    """Read and validate an edge config file; raise ConfigError on the first problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the edge config file ({exc.strerror}). "
            "Pass an existing file with --config (start from deploy/edge.example.toml)."
        ) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix the syntax.") from exc

    check = _Checker(path)
    check.walk(data, SCHEMA)

    name = data["name"]
    if not NAME_PATTERN.match(name):
        raise check.fail(
            "name",
            f"{name!r} is not a valid edge name",
            "Use 3-28 characters: lower-case letters, digits and '-', starting with a "
            "letter (it prefixes every resource name, and ALB names allow 32 characters).",
        )
    if name.startswith("internal-"):
        raise check.fail(
            "name",
            f"{name!r} begins with 'internal-'",
            "Choose another name: ELB refuses load balancer names that begin with "
            "'internal-', and the ALB is named '<name>-alb'.",
        )
    region = data["region"]
    if not REGION.match(region) or region not in _known_regions():
        raise check.fail(
            "region",
            f"{region!r} is not an AWS region",
            "Use e.g. 'eu-west-1' (the regions botocore knows: `aws ec2 describe-regions`).",
        )

    app, origin, network = data["app"], data["origin"], data["network"]
    hostnames = [h.lower() for h in app["hostnames"]]
    if not hostnames:
        raise check.fail(
            "app.hostnames",
            "the list is empty",
            "List the name(s) people type, e.g. admin.example.com.",
        )
    for key, host in [(f"app.hostnames[{i}]", h) for i, h in enumerate(hostnames)] + [
        ("origin.hostname", origin["hostname"].lower())
    ]:
        if not HOSTNAME.match(host):
            raise check.fail(key, f"{host!r} is not a DNS host name", "Use e.g. admin.example.com.")
    origin_hostname = origin["hostname"].lower()
    if origin_hostname in hostnames:
        raise check.fail(
            "origin.hostname",
            "the origin host name must differ from the app host names",
            "Use a separate name for the ALB, e.g. api-origin.example.com: the app names "
            "point at CloudFront, the origin name at the ALB.",
        )
    _check_cert(
        check,
        "app.certificate_arn",
        app["certificate_arn"],
        CLOUDFRONT_CERT_REGION,
        "CloudFront only accepts ACM certificates from",
    )
    _check_cert(
        check,
        "origin.certificate_arn",
        origin["certificate_arn"],
        region,
        "the ALB needs one from its own region (key 'region'),",
    )

    subnets = network["subnet_ids"]
    if len(set(subnets)) < 2:
        raise check.fail(
            "network.subnet_ids",
            "an ALB needs at least 2 subnets in different availability zones, "
            f"got {len(set(subnets))}",
            "Add another public subnet of the VPC in a second availability zone.",
        )
    for i, subnet in enumerate(subnets):
        if not subnet.startswith("subnet-"):
            raise check.fail(
                f"network.subnet_ids[{i}]",
                f"{subnet!r} is not a subnet id",
                "Use ids like subnet-0abc123.",
            )
    if not network["vpc_id"].startswith("vpc-"):
        raise check.fail(
            "network.vpc_id",
            f"{network['vpc_id']!r} is not a VPC id",
            "Use an id like vpc-0abc123.",
        )

    targets = data["targets"]
    port = targets["port"]
    if not 1 <= port <= 65535:
        raise check.fail(
            "targets.port", f"{port} is not a TCP port", "Use gunicorn's port, e.g. 8000."
        )
    target_ids = targets.get("ids", [])
    kinds = {"ip" if _is_ip(t) else "instance" for t in target_ids}
    if len(kinds) > 1:
        raise check.fail(
            "targets.ids",
            "mixes instance ids and IP addresses",
            "Use only instance ids (i-...) or only IP addresses: a target group has one type.",
        )
    for i, target in enumerate(target_ids):
        if not _is_ip(target) and not target.startswith("i-"):
            raise check.fail(
                f"targets.ids[{i}]",
                f"{target!r} is neither an instance id nor an IP address",
                "Use ids like i-0abc123 or private IP addresses.",
            )

    bucket = data["frontend"]["bucket"]
    problem = bucket_name_problem(bucket)
    if problem:
        raise check.fail(
            "frontend.bucket",
            f"{bucket!r} is not a valid S3 bucket name: {problem}",
            "Use 3-63 lower-case letters, digits, '-' and '.', starting and ending with a "
            "letter or digit (see the S3 bucket naming rules).",
        )

    allowlist = data.get("allowlist", {})
    cidrs = []
    for i, cidr in enumerate(allowlist.get("initial_cidrs", [])):
        key = f"allowlist.initial_cidrs[{i}]"
        try:
            network_obj = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise check.fail(
                key,
                f"{cidr!r} is not an IP network",
                "Use your network, e.g. 81.2.69.0/24 or 81.2.69.160/32.",
            ) from None
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise check.fail(
                key, f"{cidr!r} has host bits set", f"Use the network address: {network_obj}."
            ) from None
        if network_obj.prefixlen == 0:
            raise check.fail(key, "/0 would allow the whole internet", "Use a narrower network.")
        cidrs.append(str(network_obj))

    block_message = allowlist.get("block_message", DEFAULT_BLOCK_MESSAGE)
    block_contact = allowlist.get("block_contact", "").strip()
    if "block_contact" in allowlist and not block_contact:
        raise check.fail(
            "allowlist.block_contact",
            "the contact line is empty",
            "Say whom blocked people should ask, e.g. 'IT desk: it@example.com, ext. 400', "
            "or remove the key.",
        )
    access_links = data.get("access_links", {}).get("enabled", False)
    _check_block_message(check, block_message, block_contact, access_links=access_links)

    tags = data.get("tags", {})
    _check_tags(check, tags)

    retention = data.get("logging", {}).get("waf_retention_days", DEFAULT_WAF_LOG_RETENTION_DAYS)
    if retention not in LOG_RETENTION_DAYS:
        raise check.fail(
            "logging.waf_retention_days",
            f"{retention} is not a retention CloudWatch Logs offers",
            f"Use one of {', '.join(map(str, LOG_RETENTION_DAYS))}.",
        )

    return EdgeConfig(
        path=path,
        name=name,
        region=region,
        app_hostnames=tuple(hostnames),
        app_certificate_arn=app["certificate_arn"],
        origin_hostname=origin_hostname,
        origin_certificate_arn=origin["certificate_arn"],
        vpc_id=network["vpc_id"],
        subnet_ids=tuple(dict.fromkeys(subnets)),
        target_ids=tuple(target_ids),
        target_port=port,
        frontend_bucket=bucket,
        initial_cidrs=tuple(cidrs),
        block_message=block_message,
        block_contact=block_contact,
        access_links=access_links,
        tags=dict(tags),
        waf_log_retention_days=retention,
    )
