"""The local edge in-process, in front of the edge provisioned into moto: the security
headers of the CloudFront response headers policy on every response (issue 12, item 11)
and the viewer-override header honoured only when turned on (item 12)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest

from deploy.headers import SECURITY_HEADERS
from deploy.localstack.edge import DistributionRoutes, LocalEdge, WebAclJudge
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, apply_edge, config_text

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = "127.0.0.1"
pytestmark = pytest.mark.django_db

# What the CloudFront response headers policy carries (deploy/cloudfront.py builds it from
# the same dict; tests/deploy/test_response_headers_policy.py checks the provisioned one).
EXPECTED_HEADERS = dict(SECURITY_HEADERS)


def origin(environ, start_response):
    """A stand-in for Django: echoes what the edge forwarded, with its own framing header."""
    seen = {
        "viewer": environ.get("HTTP_CLOUDFRONT_VIEWER_ADDRESS", ""),
        "override": environ.get("HTTP_X_GATEHOUSE_LOCAL_VIEWER", ""),
    }
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Frame-Options", "SAMEORIGIN")])
    return [repr(seen).encode()]


def make_edge(*, trust_viewer_override: bool = False) -> LocalEdge:
    region_cf = aws_client("cloudfront", "us-east-1")
    distribution_id = region_cf.list_distributions()["DistributionList"]["Items"][0]["Id"]
    return LocalEdge(
        judge=WebAclJudge(wafv2=aws_client("wafv2", "us-east-1"), web_acl_name=f"{EDGE}-edge"),
        routes=DistributionRoutes(region_cf, distribution_id),
        origin_app=origin,
        static_root=ROOT / "frontend",
        trust_viewer_override=trust_viewer_override,
    )


@pytest.fixture
def provisioned(account, tmp_path, settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True
    settings.GATEHOUSE_EDGE_NAME = EDGE
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=(f"{ALLOWED}/32",)))
    apply_edge(path)


def get(edge: LocalEdge, path: str, *, remote: str = ALLOWED, **headers: str):
    captured: dict = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(response_headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "REMOTE_ADDR": remote,
        "REMOTE_PORT": "50000",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
        **{"HTTP_" + k.upper(): v for k, v in headers.items()},
    }
    body = b"".join(edge(environ, start_response))
    return captured["status"], captured["headers"], body


CASES = [
    ("/", ALLOWED, 200),  # the console, from frontend/
    ("/app.js", ALLOWED, 200),
    ("/no-such-file", ALLOWED, 404),
    ("/api/test1", ALLOWED, 200),  # from the origin, which sets its own X-Frame-Options
    ("/", "192.0.2.1", 403),  # the web ACL's block page
]


def test_every_response_carries_the_security_headers(provisioned):
    edge = make_edge()  # one provisioning (slow in moto) for every case
    for path, remote, status in CASES:
        got_status, headers, _ = get(edge, path, remote=remote)
        assert got_status == status, path
        for name, value in EXPECTED_HEADERS.items():
            assert headers.get(name) == value, (path, name)


def test_viewer_override_is_ignored_and_stripped_by_default(provisioned):
    edge = make_edge()
    status, _, body = get(edge, "/api/test1", x_gatehouse_local_viewer="192.0.2.1")
    assert status == 200  # judged as REMOTE_ADDR, which is allowed
    assert body == repr({"viewer": f"{ALLOWED}:50000", "override": ""}).encode()
    # Nor can a blocked peer claim an allowed address.
    assert get(edge, "/", remote="192.0.2.1", x_gatehouse_local_viewer=ALLOWED)[0] == 403


def test_viewer_override_is_honoured_when_turned_on(provisioned):
    edge = make_edge(trust_viewer_override=True)
    assert get(edge, "/", x_gatehouse_local_viewer="192.0.2.1")[0] == 403
    status, _, body = get(edge, "/api/test1", remote="192.0.2.1", x_gatehouse_local_viewer=ALLOWED)
    assert status == 200
    assert body == repr({"viewer": f"{ALLOWED}:50000", "override": ""}).encode()
