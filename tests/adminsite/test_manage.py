"""manage.py from a newcomer's terminal: offline commands need no secret, a missing
setting is one line (no traceback), and the app creates its own data directory."""

import json
import shutil
import subprocess
from pathlib import Path

from tests.adminsite.test_settings import PRODUCTION_ENV, ROOT, manage

NO_SECRET = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}


def test_printing_the_iam_policy_needs_no_secret_key():
    result = manage(
        "provision_infra",
        "--print-iam-policy",
        "--config",
        str(ROOT / "deploy" / "edge.example.toml"),
        "--account-id",
        "123456789012",
        env=NO_SECRET,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Version"] == "2012-10-17"


def test_a_command_without_the_secret_key_fails_in_one_line_naming_it():
    result = manage("sync_waf", "--dry-run", env=NO_SECRET)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("manage.py: ImproperlyConfigured: Set the DJANGO_SECRET_KEY")


def test_the_sqlite_data_directory_is_created_when_missing(tmp_path):
    database = tmp_path / "gone" / "var" / "gatehouse.sqlite3"
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{database}"}
    result = manage("migrate", "--verbosity=0", env=env)
    assert result.returncode == 0, result.stderr
    assert database.exists()


def test_make_clean_keeps_the_tracked_var_gitkeep(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / ".gitkeep").touch()
    (tmp_path / "var" / "gatehouse.sqlite3").write_text("db")
    (tmp_path / "var" / "edge.local.toml").write_text("x")
    result = subprocess.run(
        ["make", "--no-print-directory", "clean"],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in Path(tmp_path / "var").iterdir()) == [".gitkeep"]
