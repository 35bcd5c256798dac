"""A small client for the running stack: GraphQL at 127.0.0.1 and the Docker CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from platformctl import locations

WEBSERVER = os.environ.get("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000")
DOCKER = os.environ.get("DOCKER", "docker")
PROJECT = os.environ.get("PROJECT", "dagster-platform")
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
ROOT = Path(__file__).resolve().parents[2]
# The code locations, in dg.toml's order (everything generated from it follows
# that order; `make new-location` appends).
LOCATIONS = tuple(locations.names(ROOT))
IN_FLIGHT = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
T = TypeVar("T")


class GraphQLError(AssertionError):
    pass


def gql(query: str, **variables: Any) -> dict:
    resp = requests.post(f"{WEBSERVER}/graphql", json={"query": query, "variables": variables}, timeout=60)
    if resp.status_code >= 500:
        raise ServerError(f"HTTP {resp.status_code} from {WEBSERVER}/graphql: {resp.text[:2000]}")
    if resp.status_code != 200:
        raise GraphQLError(f"HTTP {resp.status_code} from {WEBSERVER}/graphql: {resp.text[:2000]}")
    body = resp.json()
    if body.get("errors"):
        raise GraphQLError(json.dumps(body["errors"], indent=2))
    return body["data"]


def poll(
    fn: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 1.0,
    what: str = "condition",
    transient: tuple[type[BaseException], ...] = (),
) -> T:
    """Call fn until it returns something truthy, or fail after `timeout` seconds.

    Exceptions listed in `transient` (a service restarting) count as "not yet".
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except transient as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last value: {last!r})")


LAUNCH = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on InvalidSubsetError { message }
}}"""


def launch(location: str, job: str, run_config: dict | None = None, tags: dict | None = None) -> str:
    params = {
        "selector": {"repositoryLocationName": location, "repositoryName": "__repository__", "jobName": job},
        "runConfigData": run_config or {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    result = gql(LAUNCH, params=params)["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


RUN = """
query($runId: ID!) { runOrError(runId: $runId) { __typename
  ... on Run { runId status jobName tags { key value } startTime endTime } } }"""


def run_info(run_id: str) -> dict:
    run = gql(RUN, runId=run_id)["runOrError"]
    assert run["__typename"] == "Run", run
    run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return run


class ServerError(GraphQLError):
    """The webserver answered 5xx: it (or Postgres behind it) may be restarting."""


def wait_for_status(run_id: str, statuses: set[str], timeout: float = 240) -> dict:
    def check():
        run = run_info(run_id)
        if run["status"] in statuses:
            return run
        if run["status"] in TERMINAL:
            raise AssertionError(f"run {run_id} ended {run['status']}, expected {statuses}:\n{run_failure(run_id)}")
        return None

    return poll(check, timeout=timeout, what=f"run {run_id} to reach {statuses}",
                transient=(ServerError, requests.ConnectionError))


EVENTS = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 1000) { __typename
  ... on EventConnection { events { __typename
    ... on MessageEvent { message }
    ... on LogsCapturedEvent { fileKey stepKeys }
    ... on ExecutionStepFailureEvent { stepKey error { message } } } } } }"""


def run_events(run_id: str) -> list[dict]:
    return gql(EVENTS, runId=run_id)["logsForRun"]["events"]


def run_failure(run_id: str) -> str:
    lines = []
    for e in run_events(run_id):
        if "Failure" in e["__typename"] or "Engine" in e["__typename"]:
            lines.append(e.get("message", ""))
        if e.get("error"):
            lines.append(f"  {e.get('stepKey')}: {e['error']['message'].strip()}")
    return "\n".join(lines[-12:])


def docker(*args: str, check: bool = True, input_text: str | None = None) -> str:
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=120, input=input_text)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container))[0]


def service_container(service: str) -> str:
    return docker(
        "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
        "--filter", f"label=com.docker.compose.service={service}",
    )


def psql(sql: str, database: str = "warehouse") -> list[list[str]]:
    """Query the warehouse inside the Postgres container (Postgres is never published)."""
    out = docker(
        "exec", service_container("postgres"), "sh", "-c",
        f'psql -U "$POSTGRES_USER" -d {database} -At -F "|" -c "$0"', sql,
    )
    return [line.split("|") for line in out.splitlines() if line]


def instance_sql(sql: str) -> list[list[str]]:
    """Query the instance database, named by the Postgres container's own POSTGRES_DB."""
    return psql(sql, database='"$POSTGRES_DB"')


def runs_in_flight() -> list[dict]:
    query = "query($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results { runId } } } }"
    return gql(query, f={"statuses": IN_FLIGHT})["runsOrError"]["results"]


JOBS = """
query($selector: RepositorySelector!) { repositoryOrError(repositorySelector: $selector) { __typename
  ... on Repository { jobs { name } } } }"""


def jobs_of(location: str) -> set[str]:
    selector = {"repositoryLocationName": location, "repositoryName": "__repository__"}
    return {j["name"] for j in gql(JOBS, selector=selector)["repositoryOrError"]["jobs"]}


RUNS = """
query($filter: RunsFilter) { runsOrError(filter: $filter) { __typename
  ... on Runs { results { runId status jobName creationTime startTime endTime tags { key value } } } } }"""


def runs_by_id(run_ids: list[str]) -> list[dict]:
    """Several runs in one query (polling them one by one loads the stack being measured)."""
    return query_runs({"runIds": run_ids})


def query_runs(filter_: dict) -> list[dict]:
    """The runs matching a GraphQL RunsFilter, each with its tags as a dict."""
    results = gql(RUNS, filter=filter_)["runsOrError"]["results"]
    for run in results:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return results


def runs(job: str | None = None, tags: dict | None = None, created_after: float | None = None) -> list[dict]:
    filter_: dict = {}
    if job:
        filter_["pipelineName"] = job
    if tags:
        filter_["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if created_after is not None:
        filter_["createdAfter"] = created_after
    return sorted(query_runs(filter_), key=lambda r: r["creationTime"])


def wait_for_run(job: str, *, created_after: float, tags: dict | None = None, timeout: float = 300) -> dict:
    """The first run of `job` created after `created_after`, once it has succeeded."""
    found = poll(lambda: runs(job, tags, created_after), timeout=timeout, what=f"a {job} run to be created")
    return wait_for_status(found[0]["runId"], {"SUCCESS"}, timeout=timeout)


def wait_for_last_run(job: str, *, created_after: float, timeout: float = 300) -> dict:
    """The newest run of `job` created after `created_after`, once every such run has
    ended and it has succeeded. A sensor may start more than one (a tick for the
    previous test's materializations, then one for these); they run in the order
    they were created, so the newest writes last."""
    def settled():
        found = runs(job, None, created_after)
        return found if found and all(r["status"] in TERMINAL for r in found) else None

    found = poll(settled, timeout=timeout, what=f"every {job} run created after {created_after} to end")
    return wait_for_status(found[-1]["runId"], {"SUCCESS"}, timeout=timeout)


# Plain settings every container of the stack gets (compose's x-platform-env).
PLAIN_ENV = ("DAGSTER_PLATFORM_ENV", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "WAREHOUSE_DB",
             "S3_ENDPOINT_URL", "AWS_REGION", "DAGSTER_LOGS_BUCKET", "LANDING_BUCKET")


def secrets_volume(principal: str) -> str:
    """The volume holding a principal's credentials (platformctl.volumes)."""
    return f"{PROJECT}_secrets-{principal}"


def run_as(principal: str, script: str, *args: str, input_bytes: bytes | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -c script args` in a throwaway container of the platform image with
    `principal`'s credentials (its volume, exported by the image's entrypoint) and
    the stack's plain settings: what that principal's own code could do."""
    daemon = inspect(service_container("daemon"))
    env = dict(item.split("=", 1) for item in daemon["Config"]["Env"])
    plain = [arg for name in PLAIN_ENV if name in env for arg in ("-e", f"{name}={env[name]}")]
    return subprocess.run(
        [DOCKER, "run", "--rm", "-i", "--network", "dagster_platform", *plain,
         "-v", f"{secrets_volume(principal)}:/run/secrets/platform:ro", daemon["Config"]["Image"],
         "python", "-c", script, *args],
        input=input_bytes, capture_output=True, timeout=timeout,
    )


def rerun_init() -> str:
    """Run the stack's one-shot init container again (roles, grants, migrations,
    buckets); returns its output. It exits 0 or the test fails."""
    container = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}",
                       "--filter", "label=com.docker.compose.service=init").splitlines()[0]
    proc = subprocess.run([DOCKER, "start", "-a", container], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def exec_as(service: str, script: str, *args: str, input_bytes: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -c script args` inside a running service, with its own credentials."""
    return subprocess.run(
        [DOCKER, "exec", "-i", service_container(service), "/opt/platform/bin/entrypoint", "python", "-c", script,
         *args], input=input_bytes, capture_output=True, timeout=120)


S3 = ("import os, sys, boto3; from botocore.config import Config; s3 = boto3.client('s3', "
      "endpoint_url=os.environ['S3_ENDPOINT_URL'], region_name=os.environ['AWS_REGION'], "
      "config=Config(s3={'addressing_style': 'path'})); ")


def put_landing(key: str, data: bytes) -> None:
    """Drop a file into the landing bucket with the landing key, as an upstream system
    would (the store is never published)."""
    script = S3 + "s3.put_object(Bucket=os.environ['LANDING_BUCKET'], Key=sys.argv[1], Body=sys.stdin.buffer.read())"
    proc = run_as("landing", script, key, input_bytes=data)
    assert proc.returncode == 0, proc.stderr.decode()


def get_object(key: str, location: str = "ingest") -> bytes:
    """An object of `location`'s own bucket, read with that location's key."""
    script = S3 + "sys.stdout.buffer.write(s3.get_object(Bucket=os.environ['DATA_BUCKET'], Key=sys.argv[1])['Body'].read())"
    proc = exec_as(location, script, key)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def list_keys(prefix: str, location: str = "ingest") -> list[str]:
    """Keys under `prefix` in `location`'s own bucket."""
    script = S3 + ("p = s3.get_paginator('list_objects_v2').paginate(Bucket=os.environ['DATA_BUCKET'], "
                   "Prefix=sys.argv[1]); print('\\n'.join(o['Key'] for page in p for o in page.get('Contents', [])))")
    proc = exec_as(location, script, prefix)
    assert proc.returncode == 0, proc.stderr.decode()
    return [k for k in proc.stdout.decode().splitlines() if k]


STACK_STATE = (".env", ".deploy/state.json")


def copy_repo(dest: Path, extra: tuple[str, ...] = STACK_STATE) -> Path:
    """Copy the checkout (tracked and untracked-not-ignored files, plus `extra`:
    by default .env and the deploy state, to run make there against the same
    running stack) to `dest`, as a fresh repository."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.splitlines()
    for rel in [*files, *extra]:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    # deploy.py hashes the files git would track: make the copy a repository too.
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def make(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=1200)


PROBE_JOB = """

# --- a code-only change, appended by {who} ---
@dg.op
def {marker}_op() -> None:
    pass


@dg.job(name="{marker}")
def _{marker}_job():
    {marker}_op()


_PROBED = {{"defs": defs}}
_SENSORS = []
{sensor}

@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(_PROBED["defs"](), dg.Definitions(jobs=[_{marker}_job], sensors=_SENSORS))
"""

PROBE_SENSOR = """
@dg.sensor(name="{marker}_sensor", job=_{marker}_job, minimum_interval_seconds=5,
           default_status=dg.DefaultSensorStatus.RUNNING)
def _{marker}_sensor():
    yield dg.RunRequest(run_key="once")


_SENSORS.append(_{marker}_sensor)
"""


def probe_job_code(marker: str, who: str, *, sensor: bool = False) -> str:
    """Python to append to a location's definitions.py: one more job, named `marker`,
    and with `sensor`, a running sensor `<marker>_sensor` that launches it once."""
    return PROBE_JOB.format(marker=marker, who=who,
                            sensor=PROBE_SENSOR.format(marker=marker) if sensor else "")


# A read of each storage dagster-webserver holds a pooled connection to.
STORAGE_QUERIES = {
    "runs": "{ runsOrError(limit: 1) { __typename } }",
    "event log": "{ assetsOrError(limit: 1) { __typename } }",
    "schedules": "{ repositoriesOrError { ... on RepositoryConnection { nodes { sensors { sensorState { "
                 "ticks(limit: 1) { timestamp } } } } } } }",
}


def webserver_reconnected(timeout: float = 60) -> int:
    """Poll a read of each storage until it answers; returns how many requests failed."""
    failed = 0
    for name, query in STORAGE_QUERIES.items():
        def answered(query=query):
            nonlocal failed
            try:
                data = gql(query)
            except (ServerError, GraphQLError):
                data = None
            if data is None or "PythonError" in json.dumps(data):
                failed += 1
                return None
            return data
        poll(answered, timeout=timeout, interval=1, what=f"the webserver's {name} storage to answer")
    return failed
