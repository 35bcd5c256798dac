"""`make rotate PRINCIPAL=<name>`: one location's credentials replaced on the running
stack, restarting only that location, with no failed run (docs/operations.md)."""

from __future__ import annotations

import subprocess

from tests.e2e.platform import (
    DOCKER, PLAIN_ENV, ROOT, docker, inspect, launch, make, secrets_volume, service_container,
    wait_for_status,
)

SERVICES = ("postgres", "s3", "webserver", "daemon", "ingest", "transform", "reports")
LOGIN = """
import os, sys, psycopg2, boto3
from botocore.config import Config
out = []
try:
    psycopg2.connect(host=os.environ["DAGSTER_PG_HOST"], port=int(os.environ["DAGSTER_PG_PORT"]),
                     user=os.environ["DAGSTER_PG_USER"], password=os.environ["DAGSTER_PG_PASSWORD"],
                     dbname=os.environ["DAGSTER_PG_DB"], connect_timeout=5).close()
    out.append("postgres ok")
except Exception as e:
    out.append("postgres refused: " + str(e).strip().splitlines()[0])
try:
    boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"],
                 config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
                 ).list_objects_v2(Bucket=os.environ["DATA_BUCKET"], MaxKeys=1)
    out.append("s3 ok")
except Exception as e:
    out.append("s3 refused: " + e.response["Error"]["Code"])
print("; ".join(out))
"""


def bundle(principal: str) -> dict[str, str]:
    image = inspect(service_container("daemon"))["Config"]["Image"]
    text = docker("run", "--rm", "--network", "none", "--entrypoint", "cat",
                  "-v", f"{secrets_volume(principal)}:/run/secrets/platform:ro", image, "/run/secrets/platform/env")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def try_login(credentials: dict[str, str], tmp_path) -> str:
    """Log in to Postgres and list the location's bucket with these credentials only."""
    daemon = inspect(service_container("daemon"))
    plain = dict(item.split("=", 1) for item in daemon["Config"]["Env"])
    env_file = tmp_path / "login.env"  # secrets in a file, not on a command line
    env_file.write_text("".join(f"{k}={v}\n" for k, v in
                                {**{k: plain[k] for k in PLAIN_ENV if k in plain}, **credentials}.items()))
    env_file.chmod(0o600)
    proc = subprocess.run([DOCKER, "run", "--rm", "--network", "dagster_platform", "--env-file", str(env_file),
                           "--entrypoint", "python", daemon["Config"]["Image"], "-c", LOGIN],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def started(service: str) -> tuple[str, str]:
    container = service_container(service)
    return container, inspect(container)["State"]["StartedAt"]


def test_rotating_a_locations_credentials_restarts_only_it_and_fails_no_run(tmp_path):
    old = bundle("ingest")
    assert try_login(old, tmp_path) == "postgres ok; s3 ok"
    before = {s: started(s) for s in SERVICES}
    # A run that starts on the old credentials and keeps writing its event log
    # across the switch: they must stay valid until it ends.
    holding = launch("housekeeping", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 40}}}})
    wait_for_status(holding, {"STARTED"})

    rotated = make(ROOT, "rotate", "PRINCIPAL=ingest", "DRAIN_TIMEOUT=600")
    assert rotated.returncode == 0, rotated.stdout[-3000:] + rotated.stderr[-3000:]
    assert "ingest: rotated; the previous credentials no longer work" in rotated.stdout

    assert wait_for_status(holding, {"SUCCESS"}, timeout=300)["status"] == "SUCCESS"
    assert wait_for_status(launch("housekeeping", "probe_job"), {"SUCCESS"})["status"] == "SUCCESS"
    after = {s: started(s) for s in SERVICES}
    assert {s for s in SERVICES if after[s] != before[s]} == {"ingest"}  # nothing else restarted

    new = bundle("ingest")
    assert new["DAGSTER_PG_USER"] != old["DAGSTER_PG_USER"]  # the other login slot
    assert {new[k] for k in ("DAGSTER_PG_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}.isdisjoint(
        {old[k] for k in ("DAGSTER_PG_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    assert try_login(new, tmp_path) == "postgres ok; s3 ok"
    refused = try_login(old, tmp_path)
    assert refused.startswith("postgres refused: ") and refused.endswith("s3 refused: InvalidAccessKeyId"), refused
    env = (ROOT / ".env").read_text()
    assert "_PREVIOUS=" not in env and f"INGEST_CREDENTIALS_SLOT={new['DAGSTER_PG_USER'][-1]}" in env
