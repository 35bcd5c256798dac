"""Teams are separate trust domains, proven from inside each location on the stack.

From each location's code server and from a run of each location (a deploy adds a
probe job, as a team's own code would): reads and writes outside its declared
grants fail with Postgres's permission error; COPY ... PROGRAM, server files,
CREATE ROLE and CREATE DATABASE are refused; other locations' buckets are
closed; SeaweedFS's internal ports are not reachable. And no container shows a
secret in `docker inspect`: each holds only its own principal's credentials, as
files in its own volume.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.e2e.platform import (
    LOCATIONS, PROJECT, ROOT, copy_repo, docker, exec_as, gql, inspect, jobs_of, launch, make, poll, psql,
    secrets_volume, wait_for_status,
)

pytestmark = pytest.mark.e2e

PROBE = (ROOT / "tests" / "data" / "boundary_probe.py").read_text()
DENIED = "denied: 42501"  # Postgres's insufficient_privilege


def env_file() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (ROOT / ".env").read_text().splitlines()
                if "=" in line and not line.lstrip().startswith("#"))


def declarations():
    import sys

    sys.path.insert(0, str(ROOT / "libs" / "platformctl" / "src"))
    from platformctl import locations, principals

    found = {loc.name: loc for loc in locations.discover(ROOT)}
    return found, principals


def a_table(schema: str) -> str:
    rows = psql(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}' "
                "ORDER BY table_name LIMIT 1")
    return rows[0][0] if rows else "no_such_table"


def spec_for(location: str) -> dict:
    found, pr = declarations()
    env = env_file()
    me = found[location]
    others = [loc for loc in found.values() if loc.name != location]
    foreign = [s for loc in others for s in loc.warehouse_writes if s not in me.warehouse_reads]
    read_buckets = [pr.bucket_of(env, b) for b in me.bucket_reads]
    foreign_buckets = [pr.data_bucket(env, loc.name) for loc in others
                       if pr.data_bucket(env, loc.name) not in read_buckets]
    schemas = [*foreign, *me.warehouse_reads, *me.warehouse_writes]
    return {"foreign_schemas": foreign, "read_schemas": list(me.warehouse_reads),
            "own_schemas": list(me.warehouse_writes), "tables": {s: a_table(s) for s in schemas},
            "foreign_buckets": foreign_buckets, "read_buckets": read_buckets,
            "superuser_password": env["POSTGRES_PASSWORD"]}


def expected(spec: dict, own_bucket: str, logs: str) -> dict[str, str]:
    """attempt -> "ok" or the start of the denial it must get."""
    out = {}
    for schema in spec["foreign_schemas"]:
        out[f"read {schema}"] = out[f"create in {schema}"] = DENIED
    for schema in spec["read_schemas"]:
        out[f"read {schema}"] = "ok"
        out[f"write {schema}"] = out[f"drop in {schema}"] = DENIED
    for schema in spec["own_schemas"]:
        out[f"create in {schema}"] = "ok"
    for attempt in ("create schema", "create in public", "copy to program", "copy from program",
                    "pg_read_server_files", "copy from server file", "create role", "create database",
                    "alter own role", "instance: drop runs", "instance: alter runs", "instance: create table",
                    "instance: truncate runs"):
        out[attempt] = DENIED
    # Dagster OSS: run workers write the event log, so every location reads and writes
    # the instance's rows (docs/security.md, "What a location can still do").
    out["instance: read runs"] = "ok"
    out["connect to postgres database"] = "denied: "
    out.update({f"put {own_bucket}": "ok", f"get {own_bucket}": "ok", f"delete {own_bucket}": "ok"})
    for bucket in spec["foreign_buckets"]:
        for verb in ("list", "get", "put", "delete"):
            out[f"{verb} {bucket}"] = "denied: AccessDenied"
    for bucket in spec["read_buckets"]:
        out[f"list {bucket}"] = "ok"
        out[f"put {bucket}"] = out[f"delete {bucket}"] = "denied: AccessDenied"
    out.update({f"put {logs}": "ok", f"list {logs}": "denied: AccessDenied", f"get {logs}": "denied: AccessDenied",
                "create bucket": "denied: AccessDenied", "tcp s3:8333": "ok",
                "env holds the superuser's password": "denied"})
    for port in (9333, 19333, 8080, 18080, 8888, 18888, 8334, 18334, 18333):
        out[f"tcp s3:{port}"] = "denied: ConnectionRefusedError"
    return out


def mismatches(found: dict[str, str], want: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {k: (found.get(k, "<not tried>"), v) for k, v in want.items()
            if not found.get(k, "").startswith(v)}


def buckets(location: str) -> tuple[str, str]:
    _, pr = declarations()
    env = env_file()
    return pr.data_bucket(env, location), pr.setting(env, "DAGSTER_LOGS_BUCKET")


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_code_server_is_refused_everything_outside_its_grants(location):
    spec = spec_for(location)
    proc = exec_as(location, PROBE, json.dumps(spec))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    found = json.loads(proc.stdout)
    assert mismatches(found, expected(spec, *buckets(location))) == {}


def test_the_webserver_and_daemon_hold_the_platforms_credentials_only():
    script = """
import json, os, boto3, psycopg2
from botocore.config import Config
out = {}
def pg(db):
    return psycopg2.connect(host=os.environ["DAGSTER_PG_HOST"], port=int(os.environ["DAGSTER_PG_PORT"]),
        user=os.environ["DAGSTER_PG_USER"], password=os.environ["DAGSTER_PG_PASSWORD"], dbname=db, connect_timeout=5)
try:
    pg(os.environ["WAREHOUSE_DB"]).close(); out["warehouse"] = "ok"
except Exception as e: out["warehouse"] = "denied: " + str(e).splitlines()[0]
c = pg(os.environ["DAGSTER_PG_DB"]); c.autocommit = True
for name, sql in (("read runs", "SELECT count(*) FROM runs"), ("drop runs", "DROP TABLE runs")):
    try: c.cursor().execute(sql); out[name] = "ok"
    except Exception as e: out[name] = "denied: " + (e.pgcode or "")
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
for name, fn in (("list logs", lambda: s3.list_objects_v2(Bucket=os.environ["DAGSTER_LOGS_BUCKET"])),
                 ("put logs", lambda: s3.put_object(Bucket=os.environ["DAGSTER_LOGS_BUCKET"], Key="p", Body=b"x")),
                 ("list landing", lambda: s3.list_objects_v2(Bucket=os.environ["LANDING_BUCKET"]))):
    try: fn(); out[name] = "ok"
    except Exception as e: out[name] = "denied: " + e.response["Error"]["Code"]
out["user"] = os.environ["DAGSTER_PG_USER"]
print(json.dumps(out))
"""
    for service in ("webserver", "daemon"):
        proc = exec_as(service, script)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        found = json.loads(proc.stdout)
        assert re.fullmatch(r"dagster_platform_[ab]", found.pop("user"))
        assert found["warehouse"].startswith("denied: ") and "permission denied for database" in found["warehouse"]
        assert found == {"warehouse": found["warehouse"], "read runs": "ok", "drop runs": "denied: 42501",
                         "list logs": "ok", "put logs": "denied: AccessDenied",
                         "list landing": "denied: AccessDenied"}, service


def stack_containers() -> list[str]:
    return docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}").split() + \
        docker("ps", "-aq", "--filter", "label=dagster/run_id").split()


def test_docker_inspect_shows_no_secret_in_any_container():
    _, pr = declarations()
    env = env_file()
    values = {name: env[name] for name in env if re.search(r"PASSWORD|SECRET|ACCESS_KEY", name) and env[name]}
    assert "POSTGRES_PASSWORD" in values and len(values) >= 14
    containers = stack_containers()
    # postgres, pgbouncer, s3, init, a code server per location, webserver, daemon (and runs)
    assert len(containers) >= 6 + len(LOCATIONS)
    leaks = {}
    for container in containers:
        text = docker("inspect", container)
        leaked = sorted(name for name, value in values.items() if value in text)
        if leaked:
            leaks[container[:12]] = leaked
    assert leaks == {}


def secrets_mounts(container: str) -> list[str]:
    return sorted(m.get("Name", "") for m in inspect(container)["Mounts"] if "_secrets-" in m.get("Name", ""))


def test_each_container_mounts_only_its_own_principals_credentials():
    expected_mounts = {"postgres": ["postgres"], "s3": ["s3"], "init": ["init"], "webserver": ["platform"],
                       "daemon": ["platform"], **{loc: [loc] for loc in LOCATIONS}}
    for service, principals in expected_mounts.items():
        container = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}",
                           "--filter", f"label=com.docker.compose.service={service}").split()[0]
        assert secrets_mounts(container) == [secrets_volume(p) for p in principals], service
    runs_seen = set()
    for container in docker("ps", "-aq", "--filter", "label=dagster/run_id").split():
        location = inspect(container)["Config"]["Labels"].get("dagster-platform/location")
        assert secrets_mounts(container) == [secrets_volume(location)], container
        runs_seen.add(location)
    assert runs_seen, "no run container to look at: the e2e suite runs some before this test"


# --- from a run: a deploy adds a probe job to the location, as its team's code would

PROBE_JOB = '''

# --- a boundary probe, appended by tests/security/test_boundaries_e2e.py ---
import json as _json
import dagster as _dg
from platform_common import current_environment as _current_environment
from platform_common.environment import warehouse_for as _warehouse_for

_PROBE_SOURCE = {source!r}
_SPEC = {spec!r}


@_dg.op
def _boundary_probe(context: _dg.OpExecutionContext) -> None:
    scope = {{"__name__": "boundary_probe"}}
    exec(compile(_PROBE_SOURCE, "boundary_probe.py", "exec"), scope)
    context.add_output_metadata({{"probe": _dg.MetadataValue.json(scope["probe"](_json.loads(_SPEC)))}})


# The job's own warehouse resource, from the location's credentials: housekeeping's
# definitions have none (it owns no schema), its code could still build one.
@_dg.op(ins={{"after": _dg.In(_dg.Nothing)}}, required_resource_keys={{"probe_warehouse"}})
def _read_outside_grants(context) -> None:
    context.resources.probe_warehouse.read_sql('SELECT 1 FROM "{foreign}"."{table}" LIMIT 1')


@_dg.job(name="{marker}", resource_defs={{"probe_warehouse": _warehouse_for(_current_environment())}})
def _boundary_job():
    _read_outside_grants(after=_boundary_probe())


_PROBED = {{"defs": defs}}


@_dg.definitions
def defs() -> _dg.Definitions:
    return _dg.Definitions.merge(_PROBED["defs"](), _dg.Definitions(jobs=[_boundary_job]))
'''

EVENT_METADATA = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 1000) { ... on EventConnection { events { __typename
  ... on ExecutionStepOutputEvent { stepKey metadataEntries { label ... on JsonMetadataEntry { jsonString } } }
  ... on ExecutionStepFailureEvent { stepKey error { message causes { message } } } } } } }"""


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_run_is_refused_everything_outside_its_grants_and_its_failure_names_table_and_role(location):
    spec = spec_for(location)
    foreign = spec["foreign_schemas"][0]
    marker = f"boundary_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        repo = copy_repo(Path(tmp) / "repo")
        definitions = repo / f"code_locations/{location}/src/{location}/definitions.py"
        definitions.write_text(definitions.read_text() + PROBE_JOB.format(
            source=PROBE, spec=json.dumps(spec), foreign=foreign, table=spec["tables"][foreign], marker=marker))
        deployed = make(repo, "deploy", f"LOCATION={location}")
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
        try:
            poll(lambda: marker in jobs_of(location), timeout=120, what=f"{marker} in {location}")
            run = wait_for_status(launch(location, marker), {"FAILURE"}, timeout=300)
            events = gql(EVENT_METADATA, runId=run["runId"])["logsForRun"]["events"]
        finally:
            rolled = make(repo, "rollback", f"LOCATION={location}")
            assert rolled.returncode == 0, rolled.stdout[-2000:] + rolled.stderr[-2000:]
    outputs = [e for e in events if e["__typename"] == "ExecutionStepOutputEvent"]
    [probe] = [json.loads(m["jsonString"]) for e in outputs for m in e["metadataEntries"] if m["label"] == "probe"]
    assert mismatches(probe, expected(spec, *buckets(location))) == {}
    [failure] = [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
    text = failure["error"]["message"] + " ".join(c["message"] for c in failure["error"]["causes"])
    assert f"warehouse role dagster_{location}_" in text, text
    assert f"permission denied for schema {foreign}" in text and f"{foreign}.{spec['tables'][foreign]}" in text, text
