"""The local edge does CloudFront's origin TLS check (issue 11): the Host it would send to
the ALB must be covered by the ALB's certificate, else 502, as CloudFront answers. Built
from an edge provisioned into moto, the way runlocal builds it."""

from __future__ import annotations

import io

import pytest

from deploy.localstack.edge import DistributionRoutes, LocalEdge, OriginCertificate, WebAclJudge
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, REGION, apply_edge
from tests.deploy.test_preflight import imported_certificate

pytestmark = pytest.mark.django_db


def origin_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"origin saw Host {environ.get('HTTP_HOST')}".encode()]


@pytest.fixture
def edge(edge_config, tmp_path):
    apply_edge(edge_config)
    cloudfront = aws_client("cloudfront", "us-east-1")
    [dist] = cloudfront.list_distributions()["DistributionList"]["Items"]
    elbv2 = aws_client("elbv2", REGION)
    return LocalEdge(
        judge=WebAclJudge(wafv2=aws_client("wafv2", "us-east-1"), web_acl_name=f"{EDGE}-edge"),
        routes=DistributionRoutes(cloudfront, dist["Id"]),
        origin_app=origin_app,
        static_root=tmp_path,
        origin_certificate=OriginCertificate(
            elbv2=elbv2,
            acm=aws_client("acm", REGION),
            load_balancer_name=f"{EDGE}-alb",
        ),
    )


def get(edge, host: str, path: str = "/api/health") -> tuple[str, bytes]:
    status = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": host,
        "REMOTE_ADDR": "81.2.69.5",  # in the seeded 81.2.69.0/24
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    body = b"".join(edge(environ, lambda s, headers: status.append(s)))
    return status[0], body


def use_listener_certificate(arn: str) -> None:
    elbv2 = aws_client("elbv2", REGION)
    lb = elbv2.describe_load_balancers(Names=[f"{EDGE}-alb"])["LoadBalancers"][0]
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    https = next(x for x in listeners if x["Port"] == 443)
    elbv2.modify_listener(ListenerArn=https["ListenerArn"], Certificates=[{"CertificateArn": arn}])


def test_host_covered_by_the_alb_certificate_reaches_the_origin(edge):
    assert get(edge, "admin.example.com") == ("200 OK", b"origin saw Host admin.example.com")


def test_loopback_host_stands_for_the_first_alias(edge):
    assert get(edge, "127.0.0.1:8000")[0] == "200 OK"


def test_host_not_on_the_alb_certificate_is_a_502(edge):
    use_listener_certificate(imported_certificate(REGION, ["api-origin.example.com"]))
    import time

    time.sleep(1.1)  # the edge re-reads AWS at most once a second
    status, body = get(edge, "admin.example.com")
    assert status == "502 Bad Gateway"
    assert b"its certificate does not cover admin.example.com" in body
    assert get(edge, "admin.example.com", "/index.html")[0] != "502 Bad Gateway"  # S3 side
