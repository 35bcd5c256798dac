"""The one-shot init step (platformctl.init) against the running Postgres and store."""

from __future__ import annotations

import secrets
import subprocess

from tests.e2e.platform import DOCKER, PLAIN_ENV, docker, inspect, instance_sql, psql, rerun_init, \
    secrets_volume, service_container


def init_env() -> dict[str, str]:
    """What init's entrypoint exports: its own credentials file, read from its volume."""
    image = inspect(service_container("daemon"))["Config"]["Image"]
    text = docker("run", "--rm", "--network", "none", "--entrypoint", "cat",
                  "-v", f"{secrets_volume('init')}:/run/secrets/platform:ro", image, "/run/secrets/platform/env")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_init_is_idempotent_on_a_running_stack():
    # Run ids, not a count: the daemon may create runs meanwhile (a retry, a sensor).
    before = {row[0] for row in instance_sql("SELECT run_id FROM runs")}
    schema = instance_sql("SELECT version_num FROM alembic_version")
    roles = psql("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'dagster%' ORDER BY 1")
    output = rerun_init()
    assert "init: done" in output
    assert "created" not in output  # nothing was missing: nothing made again
    assert before <= {row[0] for row in instance_sql("SELECT run_id FROM runs")}
    assert instance_sql("SELECT version_num FROM alembic_version") == schema
    assert psql("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'dagster%' ORDER BY 1") == roles
    # Dagster's tables stay with the owner role; nobody who logs in owns one.
    assert instance_sql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'") == [
        ["dagster_instance_owner"]]


def test_a_password_the_volume_was_not_created_with_stops_init_at_once_with_the_fix(tmp_path):
    """A fresh .env next to an old Postgres volume: the password cannot match, so
    init says why and how to fix it instead of retrying for two minutes."""
    daemon = inspect(service_container("daemon"))
    plain = dict(item.split("=", 1) for item in daemon["Config"]["Env"])
    env = {**{k: plain[k] for k in PLAIN_ENV if k in plain}, **init_env()}
    env["DAGSTER_PG_PASSWORD"] = "x" + secrets.token_hex(8)  # not what the volume was created with
    # Straight to Postgres on its own network, as compose's init does (PgBouncer's logins need init's roles).
    env.update(DAGSTER_PG_HOST="postgres", DAGSTER_PG_PORT="5432")
    env_file = tmp_path / "init.env"  # secrets in a file, not on a command line
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    env_file.chmod(0o600)
    proc = subprocess.run(
        [DOCKER, "run", "--rm", "--network", "dagster_platform_database", "--env-file", str(env_file),
         "--entrypoint", "python", "-v", f"{secrets_volume('init')}:/run/secrets/platform:ro",
         daemon["Config"]["Image"], "-m", "platformctl.init"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    assert "Postgres rejected the password for user" in proc.stderr
    assert "dagster-platform_pgdata" in proc.stderr
    assert "make destroy CONFIRM=yes" in proc.stderr
    assert "still failing after" not in proc.stderr  # not retried until the deadline
