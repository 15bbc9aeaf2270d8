"""End to end: `make run` with GATEHOUSE_NOTIFY_URLS set delivers through its scheduled
sync. The stack (runlocal in a subprocess, as tests/deploy/test_localstack.py starts it)
posts to a webhook receiver in this process."""

from __future__ import annotations

import time

import pytest

from tests.deploy.test_localstack import free_port, local_env, start_runlocal, stop_runlocal
from tests.notify_receivers import WebhookReceiver

pytestmark = pytest.mark.e2e


def test_the_local_stacks_scheduled_sync_delivers_notifications(tmp_path):
    receiver = WebhookReceiver().start()
    ports = {"edge": free_port(), "aws": free_port(), "origin": free_port()}
    env = local_env(tmp_path, ports["aws"])
    env["GATEHOUSE_NOTIFY_URLS"] = receiver.url("/local-stack")
    proc, log = start_runlocal(tmp_path, env, ports, "runlocal.log", "--sync-interval=2")
    try:
        # Provisioning put the initial allowlist (127.0.0.1/32, ::1/128) in the database;
        # the scheduled sync tells the webhook about it.
        deadline = time.monotonic() + 60
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        assert stop_runlocal(proc, log) == 0
        receiver.stop()
    text = (tmp_path / "runlocal.log").read_text()
    assert "notifications:   1 URL(s) from GATEHOUSE_NOTIFY_URLS" in text
    assert "scheduled sync_waf: Notifications: 2 sent" in text, text
    messages = sorted(m["message"] for m in receiver.received)
    assert [m["path"] for m in receiver.received] == ["/local-stack"] * 2
    assert "added 127.0.0.1/32 (initial allowlist (edge config)), at " in messages[0]
    assert "added ::1/128 (initial allowlist (edge config))" in messages[1]
    assert {m["title"] for m in receiver.received} == {"Gatehouse (gatehouse-local): network added"}
