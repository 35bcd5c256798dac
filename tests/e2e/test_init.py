"""The one-shot init step against the running Postgres."""

from __future__ import annotations

import secrets
import subprocess

from tests.e2e.platform import DOCKER, inspect, instance_sql, service_container


def run_init(tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    """Run the init step from the daemon's image and env, with `overrides` applied."""
    daemon = inspect(service_container("daemon"))
    env = dict(item.split("=", 1) for item in daemon["Config"]["Env"])
    env.update(overrides)
    env_file = tmp_path / "init.env"  # secrets in a file, not on a command line
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return subprocess.run(
        [DOCKER, "run", "--rm", "--network", "dagster_platform", "--env-file", str(env_file),
         daemon["Config"]["Image"], "python", "/opt/dagster/bin/init_platform.py"],
        capture_output=True, text=True, timeout=300,
    )


def test_init_is_idempotent_on_a_running_stack(tmp_path):
    # Run ids, not a count: the daemon may create runs meanwhile (a retry, a sensor).
    before = {row[0] for row in instance_sql("SELECT run_id FROM runs")}
    schema = instance_sql("SELECT version_num FROM alembic_version")
    proc = run_init(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "init: done" in proc.stdout
    assert before <= {row[0] for row in instance_sql("SELECT run_id FROM runs")}
    assert instance_sql("SELECT version_num FROM alembic_version") == schema


def test_a_password_the_volume_was_not_created_with_stops_init_at_once_with_the_fix(tmp_path):
    """A fresh .env next to an old Postgres volume: the password cannot match, so
    init says why and how to fix it instead of retrying for two minutes."""
    wrong_password = "x" + secrets.token_hex(8)  # not what the volume was created with
    proc = run_init(tmp_path, DAGSTER_PG_PASSWORD=wrong_password)
    assert proc.returncode == 1
    assert "Postgres rejected the password for user" in proc.stderr
    assert "dagster-platform_pgdata" in proc.stderr
    assert "make destroy CONFIRM=yes" in proc.stderr
    assert "still failing after" not in proc.stderr  # not retried until the deadline
