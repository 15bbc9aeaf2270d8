"""deploy_frontend: types and caching right, stale objects gone, cache invalidated."""

import io

import boto3
import pytest
from django.core.management import CommandError, call_command

from tests.conftest import aws_client
from tests.deploy.conftest import REGION, mutating, run

pytestmark = pytest.mark.django_db
BUCKET = "gh-test-frontend"


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "views").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Gatehouse</title>")
    (root / "app.js").write_text("import './views/list.js';")
    (root / "views" / "list.js").write_text("export {};")
    (root / "style.css").write_text("body { margin: 0 }")
    (root / ".DS_Store").write_text("junk")
    return root


def deploy(config, site) -> str:
    out = io.StringIO()
    call_command("deploy_frontend", "--config", str(config), "--source", str(site), stdout=out)
    return out.getvalue()


def head(key):
    return aws_client("s3", REGION).head_object(Bucket=BUCKET, Key=key)


def test_upload_sets_types_and_caching_and_invalidates(edge_config, site):
    run("--config", str(edge_config), "--apply")
    output = deploy(edge_config, site)
    assert "4 uploaded, 0 unchanged, 0 deleted." in output
    assert head("index.html")["ContentType"] == "text/html; charset=utf-8"
    assert head("index.html")["CacheControl"] == "no-cache"
    assert head("app.js")["ContentType"] == "text/javascript; charset=utf-8"
    assert head("views/list.js")["CacheControl"] == "public, max-age=300"
    assert head("style.css")["ContentType"] == "text/css; charset=utf-8"
    cf = aws_client("cloudfront", "us-east-1")
    dist = cf.list_distributions()["DistributionList"]["Items"][0]
    [invalidation] = cf.list_invalidations(DistributionId=dist["Id"])["InvalidationList"]["Items"]
    assert f"CloudFront invalidation {invalidation['Id']} created for /*." in output
    keys = [o["Key"] for o in aws_client("s3", REGION).list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert ".DS_Store" not in keys


def test_second_deploy_uploads_nothing_and_does_not_invalidate(edge_config, site, aws_calls):
    run("--config", str(edge_config), "--apply")
    deploy(edge_config, site)
    aws_calls.clear()
    output = deploy(edge_config, site)
    assert "0 uploaded, 4 unchanged, 0 deleted." in output
    assert "no invalidation needed" in output
    assert mutating(aws_calls) == {}


def test_stale_objects_are_deleted_and_changes_uploaded(edge_config, site):
    run("--config", str(edge_config), "--apply")
    deploy(edge_config, site)
    (site / "style.css").unlink()
    (site / "app.js").write_text("console.log('v2');")
    output = deploy(edge_config, site)
    assert "1 uploaded, 2 unchanged, 1 deleted." in output
    assert "deleted style.css" in output
    with pytest.raises(boto3.client("s3").exceptions.ClientError):
        head("style.css")


def test_source_without_index_is_refused(edge_config, tmp_path):
    with pytest.raises(CommandError, match="has no index.html"):
        deploy(edge_config, tmp_path)
