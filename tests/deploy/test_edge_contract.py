"""The edge and the app answer alike: deploy/ takes the contract from accesscontrol.edge."""

from __future__ import annotations

from accesscontrol import edge
from deploy import alb, verify


def test_the_alb_refuses_with_the_same_bytes_as_the_app(https_client, settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = ["the-current-secret"]

    app_answer = https_client.get("/api/auth/session")  # no X-Origin-Verify header
    alb_answer = alb.FORBIDDEN_ACTION["FixedResponseConfig"]

    assert app_answer.status_code == int(alb_answer["StatusCode"]) == 403
    assert app_answer["Content-Type"] == alb_answer["ContentType"]
    assert app_answer.content == alb_answer["MessageBody"].encode()


def test_the_target_group_probes_the_path_the_app_answers_first():
    assert alb.HEALTH_CHECK["HealthCheckPath"] == edge.HEALTH_PATH == verify.HEALTH_PATH
