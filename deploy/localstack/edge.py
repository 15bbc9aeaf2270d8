"""The local edge: a small WSGI front that does on one machine what CloudFront + WAF do.

Development only (the local stack): production never imports this module. It is driven
by what provisioning created in the AWS stand-in, read back through the AWS API:

- Every request is judged against the web ACL (rules over the IP sets, byte matches on
  the URI path with their text transformations, per-address rate-based rules over their
  window; then the default action) using the viewer address and path; a blocked request
  gets the rule's or the web ACL's custom response.
  The web ACL and IP sets are re-read at most once a second, so allowlist changes show at
  once.
- A path matching a cache behaviour that targets the ALB origin (`/api/*`) goes to Django
  with the headers CloudFront and the ALB would add: `X-Forwarded-For` appended,
  `CloudFront-Viewer-Address`, and the origin's custom headers (`X-Origin-Verify`).
- Before forwarding, the TLS check CloudFront makes against the ALB: the Host it sends
  (the viewer's, when the behaviour's origin request policy forwards it; else the origin
  domain) must be covered by the ALB's HTTPS listener certificate, read back from the
  stand-in; otherwise 502, as CloudFront answers. A loopback or IP-literal Host (how
  people reach the local edge) stands for the distribution's first alias, the name DNS
  would have brought them by.
- Every other path is served from `frontend/` as the S3 origin would (`/` is
  `index.html`, unknown paths are 404).

- Every response it serves (static, blocked, or from Django) carries the security headers
  of the CloudFront response headers policy (SECURITY_HEADERS), overriding the origin's.
- Every judged request is offered to `record_sample` (when given) as WAF samples it: under
  the metric name of what decided it (a rule's, or the web ACL's own for the default
  action), when that visibility config has SampledRequestsEnabled, as a
  SampledHTTPRequest (client IP, country "--" (the local edge knows no geography), URI,
  method, headers, timestamp, action, weight 1). The local stack feeds these to the moto
  backend it runs in-process (deploy.moto_fixes.record_sampled_request), so
  GetSampledRequests answers what this edge really blocked.

The viewer is `REMOTE_ADDR`. Tests may claim another address with the header
`X-Gatehouse-Local-Viewer`, but only when the edge is built with
`trust_viewer_override=True` (GATEHOUSE_LOCAL_TRUST_VIEWER_HEADER, off by default: any
local process could otherwise claim an allowlisted address); the header is always
stripped before the origin.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import mimetypes
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accesscontrol.edge import ORIGIN_HEADER, WAF_SCOPE
from deploy.checks import covers
from deploy.headers import SECURITY_HEADERS as POLICY_HEADERS

log = logging.getLogger(__name__)

VIEWER_OVERRIDE = "HTTP_X_GATEHOUSE_LOCAL_VIEWER"
EDGE_ADDRESS = "127.0.0.1"  # what the ALB appends to X-Forwarded-For: the edge server
CACHE_SECONDS = 1.0
# Headers CloudFront sets itself; a viewer's own copies never reach the origin.
EDGE_OWNED = (
    "HTTP_CLOUDFRONT_VIEWER_ADDRESS",
    "HTTP_" + ORIGIN_HEADER.upper().replace("-", "_"),
    VIEWER_OVERRIDE,
)
# Managed origin request policies that forward the viewer's Host header to the origin:
# AllViewer and AllViewerAndCloudFrontHeaders-2022-06.
FORWARDS_VIEWER_HOST = frozenset(
    {"216adef6-5c7f-47e4-b989-5492eafa07d3", "33f36d7e-f396-46d9-90e0-52428a34d9dc"}
)
CONTENT_TYPES = {
    "TEXT_PLAIN": "text/plain; charset=utf-8",
    "TEXT_HTML": "text/html; charset=utf-8",
    "APPLICATION_JSON": "application/json",
}

# What the CloudFront response headers policy adds to every response (issue 12, item 11).
# deploy-core provisions the policy; until its values can be imported from one place they
# are defined here once, and the browser tests' harness sends these same headers.
# The same values CloudFront's response headers policy carries (deploy/cloudfront.py).
SECURITY_HEADERS = tuple(POLICY_HEADERS.items())
_SECURITY_HEADER_NAMES = {name.lower() for name, _ in SECURITY_HEADERS}

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
OriginApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def with_security_headers(start_response: StartResponse) -> StartResponse:
    """start_response that sets SECURITY_HEADERS, replacing the origin's own copies (the
    policy's override=true)."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        kept = [(k, v) for k, v in headers if k.lower() not in _SECURITY_HEADER_NAMES]
        headers = [*kept, *SECURITY_HEADERS]
        # exc_info is optional in WSGI: pass it on only when the app gave one.
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)

    return start


class Fresh:
    """A value re-read through `load` when older than CACHE_SECONDS (thread-safe)."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self.load = load
        self._cached: tuple[float, Any] | None = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > CACHE_SECONDS:
                self._cached = (now, self.load())
            return self._cached[1]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    status: int = 403
    content_type: str = CONTENT_TYPES["TEXT_PLAIN"]
    body: bytes = b"Forbidden"
    # What decided, as WAF samples it: the metric name of the rule (or of the web ACL, for
    # its default action) and whether that visibility config keeps samples.
    metric_name: str = ""
    sampled: bool = False
    web_acl_arn: str = ""


SAMPLE_HEADERS_KEPT = 50  # per sampled request, so a hostile request cannot grow the store
SAMPLE_HEADER_CHARS = 1024
UNKNOWN_COUNTRY = "--"


# Records one SampledHTTPRequest: (web ACL ARN, metric name, the sample in the API's shape).
SampleRecorder = Callable[[str, str, dict[str, Any]], None]


def _decided(verdict: Verdict, acl: dict[str, Any], visibility: dict[str, Any]) -> Verdict:
    return replace(
        verdict,
        metric_name=str(visibility.get("MetricName", "")),
        sampled=bool(visibility.get("SampledRequestsEnabled")),
        web_acl_arn=str(acl.get("ARN", "")),
    )


@dataclass
class WebAclJudge:
    """Evaluates a CLOUDFRONT web ACL the way WAF does for the statements we provision."""

    wafv2: Any
    web_acl_name: str
    clock: Callable[[], float] = time.monotonic
    _fresh: Fresh = field(init=False)
    _rates: RateCounter = field(init=False)

    def __post_init__(self) -> None:
        self._fresh = Fresh(self._load)
        self._rates = RateCounter(self.clock)

    def _load(self) -> tuple[dict[str, Any], dict[str, list[Network]]]:
        summaries = self.wafv2.list_web_acls(Scope=WAF_SCOPE)["WebACLs"]
        summary = next(s for s in summaries if s["Name"] == self.web_acl_name)
        acl = self.wafv2.get_web_acl(Name=summary["Name"], Scope=WAF_SCOPE, Id=summary["Id"])
        ip_sets: dict[str, list[Network]] = {}
        for arn in _ip_set_arns(acl["WebACL"]):
            name, set_id = arn.split("/")[-2:]
            ip_set = self.wafv2.get_ip_set(Name=name, Scope=WAF_SCOPE, Id=set_id)["IPSet"]
            ip_sets[arn] = [ipaddress.ip_network(a, strict=False) for a in ip_set["Addresses"]]
        web_acl: dict[str, Any] = acl["WebACL"]
        return web_acl, ip_sets

    def state(self) -> tuple[dict[str, Any], dict[str, list[Network]]]:
        state: tuple[dict[str, Any], dict[str, list[Network]]] = self._fresh.get()
        return state

    def judge(self, viewer: str, path: str = "/") -> Verdict:
        acl, ip_sets = self.state()
        request = _Request(ipaddress.ip_address(viewer), path, ip_sets)
        for rule in sorted(acl.get("Rules", []), key=lambda r: r["Priority"]):
            statement = rule["Statement"]
            if "RateBasedStatement" in statement:
                matched = self._rates.over_limit(
                    rule["Name"], statement["RateBasedStatement"], request
                )
            else:
                matched = _matches(statement, request)
            if matched:
                action = rule.get("Action", {})
                visibility = rule.get("VisibilityConfig", {})
                if "Allow" in action:
                    return _decided(Verdict(allowed=True), acl, visibility)
                if "Block" in action:
                    return _decided(_block_verdict(acl, action["Block"]), acl, visibility)
        default = acl["DefaultAction"]
        visibility = acl.get("VisibilityConfig", {})
        if "Allow" in default:
            return _decided(Verdict(allowed=True), acl, visibility)
        return _decided(_block_verdict(acl, default["Block"]), acl, visibility)


def _ip_set_arns(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "IPSetReferenceStatement":
                yield value["ARN"]
            else:
                yield from _ip_set_arns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _ip_set_arns(item)


@dataclass(frozen=True)
class _Request:
    """What the statements we provision look at: the viewer address and the URI path."""

    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    path: str
    ip_sets: dict[str, list[Network]]


# WAF's text transformations the edge provisions (others are not evaluated: no match).
TRANSFORMATIONS: dict[str, Callable[[str], str]] = {
    "NONE": lambda text: text,
    "LOWERCASE": str.lower,
    "UPPERCASE": str.upper,
}
POSITIONS: dict[str, Callable[[str, str], bool]] = {
    "EXACTLY": lambda text, search: text == search,
    "STARTS_WITH": str.startswith,
    "ENDS_WITH": str.endswith,
    "CONTAINS": lambda text, search: search in text,
}


def _byte_match(statement: dict[str, Any], request: _Request) -> bool:
    if "UriPath" not in statement["FieldToMatch"]:
        return False  # the edge only provisions URI path matches
    search = statement["SearchString"]
    search = search.decode() if isinstance(search, bytes) else search
    text = request.path
    for step in sorted(statement["TextTransformations"], key=lambda t: t["Priority"]):
        transform = TRANSFORMATIONS.get(step["Type"])
        if transform is None:
            return False
        text = transform(text)
    position = POSITIONS.get(statement["PositionalConstraint"])
    return bool(position and position(text, search))


def _matches(statement: dict[str, Any], request: _Request) -> bool:
    if "IPSetReferenceStatement" in statement:
        address = request.address
        networks = request.ip_sets[statement["IPSetReferenceStatement"]["ARN"]]
        return any(address in net for net in networks if net.version == address.version)
    if "ByteMatchStatement" in statement:
        return _byte_match(statement["ByteMatchStatement"], request)
    if "OrStatement" in statement:
        return any(_matches(s, request) for s in statement["OrStatement"]["Statements"])
    if "AndStatement" in statement:
        return all(_matches(s, request) for s in statement["AndStatement"]["Statements"])
    if "NotStatement" in statement:
        return not _matches(statement["NotStatement"]["Statement"], request)
    return False  # a statement kind the edge does not provision never matches


class RateCounter:
    """WAF's rate-based statements with AggregateKeyType IP: per rule and address, the
    requests that matched the scope-down statement within the trailing evaluation window;
    the rule matches while that count is over the limit (WAF counts blocked requests too)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def over_limit(self, rule_name: str, statement: dict[str, Any], request: _Request) -> bool:
        if statement.get("AggregateKeyType") != "IP":
            return False  # the edge only provisions per-address rate rules
        scope = statement.get("ScopeDownStatement")
        if scope is not None and not _matches(scope, request):
            return False
        window = float(statement.get("EvaluationWindowSec", 300))
        now = self.clock()
        with self._lock:
            seen = self._seen[(rule_name, str(request.address))]
            seen.append(now)
            while seen and seen[0] <= now - window:
                seen.popleft()
            limit: int = statement["Limit"]
            return len(seen) > limit


def _block_verdict(acl: dict[str, Any], block: dict[str, Any]) -> Verdict:
    custom = block.get("CustomResponse")
    if not custom:
        return Verdict(allowed=False)
    body = acl.get("CustomResponseBodies", {}).get(custom.get("CustomResponseBodyKey", ""), {})
    return Verdict(
        allowed=False,
        status=custom["ResponseCode"],
        content_type=CONTENT_TYPES.get(body.get("ContentType", ""), CONTENT_TYPES["TEXT_PLAIN"]),
        body=body.get("Content", "Forbidden").encode(),
    )


@dataclass(frozen=True)
class Route:
    path_pattern: str
    custom_headers: dict[str, str]
    origin_domain: str = ""
    forwards_host: bool = False
    aliases: tuple[str, ...] = ()


class DistributionRoutes:
    """Which paths go to the API origin, read from the distribution config (cached)."""

    def __init__(self, cloudfront: Any, distribution_id: str) -> None:
        self.cloudfront = cloudfront
        self.distribution_id = distribution_id
        self._fresh = Fresh(self._load)

    def _load(self) -> list[Route]:
        config = self.cloudfront.get_distribution_config(Id=self.distribution_id)
        config = config["DistributionConfig"]
        origins = {o["Id"]: o for o in config["Origins"]["Items"]}
        aliases = tuple(config.get("Aliases", {}).get("Items") or ())
        routes = []
        for behaviour in config.get("CacheBehaviors", {}).get("Items", []):
            origin = origins[behaviour["TargetOriginId"]]
            if "CustomOriginConfig" not in origin:
                continue  # S3 behaviours are served from frontend/
            headers = {
                h["HeaderName"]: h["HeaderValue"]
                for h in origin.get("CustomHeaders", {}).get("Items", [])
            }
            routes.append(
                Route(
                    behaviour["PathPattern"],
                    headers,
                    origin_domain=origin["DomainName"],
                    forwards_host=behaviour.get("OriginRequestPolicyId") in FORWARDS_VIEWER_HOST,
                    aliases=aliases,
                )
            )
        return routes

    def match(self, path: str) -> Route | None:
        routes = self._fresh.get()
        return next((r for r in routes if fnmatch.fnmatchcase(path, r.path_pattern)), None)


class OriginCertificate:
    """The names the ALB's HTTPS listener certificate covers, read back (cached)."""

    def __init__(self, *, elbv2: Any, acm: Any, load_balancer_name: str) -> None:
        self.elbv2 = elbv2
        self.acm = acm
        self.load_balancer_name = load_balancer_name
        self._fresh = Fresh(self._load)

    def _load(self) -> list[str]:
        lb = self.elbv2.describe_load_balancers(Names=[self.load_balancer_name])
        arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        listeners = self.elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
        https = next(x for x in listeners if x["Port"] == 443)
        cert_arn = https["Certificates"][0]["CertificateArn"]
        cert = self.acm.describe_certificate(CertificateArn=cert_arn)["Certificate"]
        return [cert["DomainName"], *cert.get("SubjectAlternativeNames", [])]

    def covers(self, host: str) -> bool:
        return any(covers(name, host) for name in self._fresh.get())


def _host_name(environ: Environ) -> str:
    host: str = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback_or_ip(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class LocalEdge:
    def __init__(
        self,
        *,
        judge: WebAclJudge,
        routes: DistributionRoutes,
        origin_app: OriginApp,
        static_root: Path,
        origin_certificate: OriginCertificate | None = None,
        trust_viewer_override: bool = False,
        record_sample: SampleRecorder | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.judge = judge
        self.routes = routes
        self.origin_app = origin_app
        self.static_root = static_root.resolve()
        self.origin_certificate = origin_certificate
        self.trust_viewer_override = trust_viewer_override
        self.record_sample = record_sample
        self.wall_clock = wall_clock

    def _sample(self, environ: Environ, viewer: str, path: str, verdict: Verdict) -> None:
        """Offer the request to the sample store as WAF would keep it."""
        if self.record_sample is None or not verdict.sampled or not verdict.web_acl_arn:
            return
        headers = [
            {
                "Name": key[5:].replace("_", "-").title(),
                "Value": str(value)[:SAMPLE_HEADER_CHARS],
            }
            for key, value in environ.items()
            # The override stands in for the connection's address: not a viewer header.
            if key.startswith("HTTP_") and key != VIEWER_OVERRIDE
        ][:SAMPLE_HEADERS_KEPT]
        sample = {
            "Request": {
                "ClientIP": viewer,
                "Country": UNKNOWN_COUNTRY,
                "URI": path,
                "Method": environ.get("REQUEST_METHOD", "GET"),
                "HTTPVersion": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "Headers": headers,
            },
            "Weight": 1,
            "Timestamp": self.wall_clock(),
            "Action": "ALLOW" if verdict.allowed else "BLOCK",
        }
        if not verdict.allowed:
            sample["ResponseCodeSent"] = verdict.status
        try:
            self.record_sample(verdict.web_acl_arn, verdict.metric_name, sample)
        except Exception:  # a sample is a nicety: the request is answered regardless
            log.exception("The local edge could not record a sampled request")

    def _origin_tls_refused(self, environ: Environ, route: Route) -> str | None:
        """The Host CloudFront would send, if the ALB's certificate does not cover it."""
        if self.origin_certificate is None:
            return None
        host = _host_name(environ) if route.forwards_host else route.origin_domain
        if route.forwards_host and _is_loopback_or_ip(host) and route.aliases:
            host = route.aliases[0]
        return None if self.origin_certificate.covers(host) else host

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return self._serve(environ, with_security_headers(start_response))

    def _serve(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        claimed = environ.get(VIEWER_OVERRIDE) if self.trust_viewer_override else None
        viewer = claimed or environ.get("REMOTE_ADDR", "")
        try:
            viewer = str(ipaddress.ip_address(viewer.strip()))
        except ValueError:
            return _respond(start_response, 400, "text/plain", b"Bad viewer address")
        path = environ.get("PATH_INFO", "/")
        verdict = self.judge.judge(viewer, path)
        self._sample(environ, viewer, path, verdict)
        if not verdict.allowed:
            return _respond(start_response, verdict.status, verdict.content_type, verdict.body)

        route = self.routes.match(path)
        if route is None:
            return self._serve_static(path, start_response)
        refused_host = self._origin_tls_refused(environ, route)
        if refused_host is not None:
            body = (
                "502 ERROR: The request could not be satisfied. CloudFront wasn't able to "
                f"connect to the origin: its certificate does not cover {refused_host}, the "
                "Host sent to it."
            ).encode()
            return _respond(start_response, 502, "text/plain; charset=utf-8", body)
        origin_environ = {k: v for k, v in environ.items() if k not in EDGE_OWNED}
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        chain = [hop for hop in (forwarded, viewer, EDGE_ADDRESS) if hop]
        origin_environ["HTTP_X_FORWARDED_FOR"] = ", ".join(chain)
        origin_environ["HTTP_CLOUDFRONT_VIEWER_ADDRESS"] = (
            f"{viewer}:{environ.get('REMOTE_PORT', '0')}"
        )
        # No TLS on the local edge: the origin sees the scheme the viewer really used, so
        # Django's CSRF origin check compares like with like.
        origin_environ["HTTP_X_FORWARDED_PROTO"] = environ.get("wsgi.url_scheme", "http")
        for name, value in route.custom_headers.items():
            origin_environ["HTTP_" + name.upper().replace("-", "_")] = value
        return self.origin_app(origin_environ, start_response)

    def _serve_static(self, path: str, start_response: StartResponse) -> Iterable[bytes]:
        relative = "index.html" if path in ("", "/") else path.lstrip("/")
        target = (self.static_root / relative).resolve()
        if not target.is_relative_to(self.static_root) or not target.is_file():
            # S3 behind OAC answers 403 for a missing key when ListBucket is not granted;
            # CloudFront shows it as is. 404 is friendlier and what the issue asks.
            return _respond(start_response, 404, "text/plain", b"Not Found")
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        cache = "no-cache" if target.name == "index.html" else "max-age=300"
        return _respond(
            start_response, 200, content_type, target.read_bytes(), [("Cache-Control", cache)]
        )


def _respond(
    start_response: StartResponse,
    status: int,
    content_type: str,
    body: bytes,
    extra: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    reason = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        429: "Too Many Requests",
        502: "Bad Gateway",
    }.get(status, "")
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    start_response(f"{status} {reason}".strip(), headers)
    return [body]
