"""runlocal starts the development OpenID provider with a random client secret: whatever
the secret looks like, the provider's command line must read it back as the secret."""

from __future__ import annotations

import subprocess

from deploy.localstack.oidc_provider.__main__ import parse_args
from deploy.management.commands import runlocal


def test_a_client_secret_starting_with_a_dash_reaches_the_provider(monkeypatch, tmp_path):
    # token_urlsafe's alphabet has "-": about one start in 64 drew a secret argparse read
    # as an option ("--client-secret: expected one argument").
    monkeypatch.setattr(runlocal.secrets, "token_urlsafe", lambda n: "-starts-with-a-dash")
    started = []

    class NoProcess:
        def __init__(self, args, **kwargs):
            started.append(args)

    monkeypatch.setattr(subprocess, "Popen", NoProcess)

    provider = runlocal.DevOpenIdProvider.launch(port=0, data_dir=tmp_path)

    [argv] = started
    assert argv[1:3] == ["-m", "deploy.localstack.oidc_provider"]
    args = parse_args(argv[3:])
    assert args.client_secret == provider.secret == "-starts-with-a-dash"
    assert args.data_dir == str(tmp_path)
