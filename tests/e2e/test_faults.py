"""Faults, restarts and recovery: nothing stuck, nothing lost, nothing run twice.

Each test records its figures (time to detect or recover, runs lost, duplicates)
in .artifacts/faults.json."""

import json
import os
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import yaml
from platformctl.check_config import locations_compose

from tests.e2e.platform import (
    DOCKER,
    TERMINAL,
    copy_repo,
    exec_as,
    put_landing,
    make,
    run_failure,
    docker,
    gql,
    inspect,
    launch,
    poll,
    run_info,
    runs,
    runs_by_id,
    ServerError,
    service_container,
    wait_for_status,
    webserver_reconnected,
    STORAGE_QUERIES,
)
from tests.e2e.test_platform import WORKSPACE


def docker_logs(container: str, since: str) -> str:
    """stdout and stderr of a container since an RFC 3339 time (Postgres logs to stderr)."""
    proc = subprocess.run([DOCKER, "logs", "--since", since, container], capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr

ROOT = Path(__file__).resolve().parents[2]
FIGURES: dict[str, dict] = {}


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield FIGURES
    out = ROOT / ".artifacts" / "faults.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")
    print(f"\nfault figures ({out}):\n{json.dumps(FIGURES, indent=2, sort_keys=True)}")


def heartbeat(seconds: int, tags: dict | None = None) -> str:
    return launch("housekeeping", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": seconds}}}}, tags)


def location_status(name: str) -> str | None:
    for entry in gql(WORKSPACE)["workspaceOrError"]["locationEntries"]:
        if entry["name"] == name:
            return entry["loadStatus"] if entry["locationOrLoadError"]["__typename"] == "RepositoryLocation" else None
    return None


def host_kill(container: str) -> None:
    """Kill the container's main process as a crash would (docker kill counts as a manual stop)."""
    pid = inspect(container)["State"]["Pid"]
    assert pid > 0
    os.kill(pid, 9)


def test_killed_run_container_is_detected_and_retried_to_success():
    run_id = heartbeat(20, {"e2e/case": "killed"})
    container = wait_for_status(run_id, {"STARTED"})["tags"]["docker/container_id"]
    killed_at = time.monotonic()
    docker("kill", container)
    failed = wait_for_status(run_id, {"FAILURE"}, timeout=60)
    detected = time.monotonic() - killed_at
    assert failed["status"] == "FAILURE"

    retries = poll(lambda: runs("heartbeat_job", {"dagster/parent_run_id": run_id}), timeout=120,
                   what="the automatic retry")
    assert len(retries) == 1
    retried = wait_for_status(retries[0]["runId"], {"SUCCESS"}, timeout=180)
    FIGURES["run_container_killed"] = {"seconds_to_detect": round(detected, 1), "runs_lost": 0,
                                       "duplicates": len(retries) - 1, "retry_status": retried["status"]}


def test_max_runtime_is_honoured():
    run_id = heartbeat(300, {"dagster/max_runtime": "15"})
    wait_for_status(run_id, {"STARTED"})
    started = time.monotonic()
    ended = wait_for_status(run_id, {"FAILURE", "CANCELED"}, timeout=120)
    FIGURES["max_runtime"] = {"limit_seconds": 15, "seconds_until_stopped": round(time.monotonic() - started, 1),
                              "status": ended["status"]}
    assert ended["status"] in {"FAILURE", "CANCELED"}


def test_crashed_code_server_comes_back_while_others_keep_running():
    case = {"e2e/case": f"code-server-killed-{uuid.uuid4().hex[:8]}"}
    before = service_container("housekeeping")
    restarts = inspect(before)["RestartCount"]
    crashed_at = time.monotonic()
    host_kill(before)
    # Another location launches while housekeeping is down.
    other = launch("ingest", "ingest_job", {"ops": {"orders_and_payments": {"config": {"orders_per_day": 0}}}},
                   {**case, "dagster/partition": "2025-12-29"})
    poll(lambda: inspect(before)["RestartCount"] > restarts and inspect(before)["State"]["Running"],
         timeout=60, what="the restart policy to bring housekeeping back")
    # Launching a run needs the code server's gRPC API: proof the location serves again.
    probe = poll(lambda: launch("housekeeping", "probe_job", tags=case),
                 timeout=180, interval=2,
                 what="housekeeping to accept a launch again", transient=(AssertionError, ServerError))
    recovered = time.monotonic() - crashed_at
    assert wait_for_status(probe, {"SUCCESS"})["status"] == "SUCCESS"
    assert location_status("housekeeping") == "LOADED"
    assert wait_for_status(other, {"SUCCESS"})["status"] == "SUCCESS"
    assert service_container("housekeeping") == before  # the same container, restarted by its policy
    launched = [other, probe]
    final = statuses(launched)
    FIGURES["code_server_killed"] = {
        "seconds_until_it_serves_again": round(recovered, 1), "other_location_run": final[other],
        "runs_lost": sum(status != "SUCCESS" for status in final.values()),
        "duplicates": len(runs(None, case)) - len(launched)}
    assert FIGURES["code_server_killed"]["duplicates"] == 0


def statuses(run_ids: list[str]) -> dict[str, str]:
    return {r["runId"]: r["status"] for r in runs_by_id(run_ids)}


def outcome(run_ids: list[str], tag: dict, started: float, timeout: float) -> dict:
    """Wait until every run ended (or `timeout`), then count: seconds, lost, duplicates."""
    def ended():
        found = statuses(run_ids)
        return found if len(found) == len(run_ids) and set(found.values()) <= TERMINAL else None

    try:
        final = poll(ended, timeout=timeout, interval=2, what=f"{len(run_ids)} runs to end",
                     transient=(ServerError, requests.ConnectionError))
    except AssertionError:
        final = statuses(run_ids)  # counted below as lost
    return {"seconds_to_all_done": round(time.monotonic() - started, 1),
            "runs_lost": sum(final.get(r) != "SUCCESS" for r in run_ids),
            "duplicates": len(runs("heartbeat_job", tag)) - len(run_ids)}


# Longer than dagster-postgres retries a connection (5 tries, about 6 s in all) and
# than PgBouncer's fast-fail window: a run that writes an event in it fails.
POSTGRES_OUTAGE_SECONDS = 20


def chains(tag: dict) -> dict[str, list[dict]]:
    """The batch's runs, grouped by the run each descends from: Dagster tags a retry
    with dagster/root_run_id, and it inherits the batch tag."""
    found: dict[str, list[dict]] = {}
    for run in runs("heartbeat_job", tag):
        found.setdefault(run["tags"].get("dagster/root_run_id", run["runId"]), []).append(run)
    return found


def test_runs_across_a_postgres_outage_each_succeed_exactly_once():
    """Four runs hold housekeeping's four slots while five more wait in the queue;
    Postgres stops (fast shutdown) for 20 s and starts again. A run that wrote an event
    while it was down failed, and Dagster's run retries launched it once more: every
    run's work ends in exactly one SUCCESS, and no run is left in flight."""
    tag = {"e2e/batch": uuid.uuid4().hex[:8]}
    holding = [heartbeat(20, tag) for _ in range(4)]
    for run_id in holding:
        wait_for_status(run_id, {"STARTED"})
    queued = [heartbeat(1, tag) for _ in range(5)]
    assert set(statuses(queued).values()) == {"QUEUED"}  # behind housekeeping's cap of 4
    stopped_at = time.monotonic()
    logs_since = datetime.now(timezone.utc).isoformat()
    postgres = service_container("postgres")
    docker("stop", postgres)
    time.sleep(max(0.0, POSTGRES_OUTAGE_SECONDS - (time.monotonic() - stopped_at)))  # the outage itself
    docker("start", postgres)
    # A clean stop (fast shutdown, not a kill after smart shutdown waited for the
    # pooled connections), so the start replays no WAL.
    log = poll(lambda: (out := docker_logs(postgres, logs_since)) and "ready to accept connections" in out and out,
               timeout=60, what="Postgres to be back")
    assert "received fast shutdown request" in log and "database system is shut down" in log, log
    assert "not properly shut down" not in log, log
    # dagster-webserver keeps one pooled connection per storage and checks none before use:
    # each storage's first request after the outage may fail once (docs/operations.md).
    # Counted first (the polls below would trip on them), then every storage answers.
    failed_requests = webserver_reconnected()
    originals = holding + queued

    def settled():
        found = chains(tag)
        done = all(r["status"] in TERMINAL for chain in found.values() for r in chain)
        return found if done and all(any(r["status"] == "SUCCESS" for r in found.get(o, [])) for o in originals) else None

    try:
        final = poll(settled, timeout=300, interval=2, what="every run, or its retry, to succeed",
                     transient=(ServerError, requests.ConnectionError))
    except AssertionError:
        final = chains(tag)  # counted below
    successes = {root: sum(r["status"] == "SUCCESS" for r in chain) for root, chain in final.items()}
    FIGURES["postgres_outage"] = {
        "outage_seconds": POSTGRES_OUTAGE_SECONDS, "queued_at_stop": len(queued), "running_at_stop": len(holding),
        "seconds_to_all_done": round(time.monotonic() - stopped_at, 1),
        "runs_retried": sum(len(chain) - 1 for chain in final.values()),
        "runs_lost": sum(successes.get(o, 0) == 0 for o in originals),
        "duplicates": sum(max(0, n - 1) for n in successes.values()),
        "webserver_requests_failed_after": failed_requests,
    }
    assert sorted(final) == sorted(originals)  # every run of the batch descends from one launched here
    assert FIGURES["postgres_outage"]["runs_lost"] == 0, final
    assert FIGURES["postgres_outage"]["duplicates"] == 0, final
    assert failed_requests <= len(STORAGE_QUERIES)
    assert wait_for_status(heartbeat(0, tag), {"SUCCESS"})


LIST_LANDING = ("import os, boto3; from botocore.config import Config; print('\\n'.join(o['Key'] for o in "
                "boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT_URL'], region_name=os.environ['AWS_REGION'], "
                "config=Config(s3={'addressing_style': 'path'})).list_objects_v2("
                "Bucket=os.environ['LANDING_BUCKET']).get('Contents', [])))")


def test_the_object_store_keeps_its_buckets_and_files_across_a_restart():
    """SeaweedFS keeps its data on its volume: after a stop and a start of the `s3`
    service the landing file is still there and the next ingest run succeeds (the
    in-memory stand-in CI used before lost every bucket: NoSuchBucket)."""
    key = f"e2e/restart-{uuid.uuid4().hex[:8]}.txt"  # outside landing/orders/: no ingest run for it
    put_landing(key, b"kept across a restart")
    s3 = service_container("s3")
    started = time.monotonic()
    docker("stop", s3)
    docker("start", s3)

    def listed():
        proc = exec_as("ingest", LIST_LANDING)
        return proc.returncode == 0 and key in proc.stdout.decode().split()

    poll(listed, timeout=120, interval=1, what="the landing file, read back after the restart")
    FIGURES["object_store_restarted"] = {"seconds_to_serve_again": round(time.monotonic() - started, 1)}
    day = f"2025-12-{1 + uuid.uuid4().int % 28:02d}"  # a day no other test loads
    assert wait_for_status(launch("ingest", "ingest_job", tags={"dagster/partition": day}), {"SUCCESS"})


def test_daemon_restarted_with_twenty_runs_queued_runs_each_once():
    """The daemon is down while twenty runs are queued; once it is back, each runs
    exactly once, in one container."""
    tag = {"e2e/batch": uuid.uuid4().hex[:8]}
    daemon = service_container("daemon")
    docker("stop", daemon)
    try:
        queued = [heartbeat(0, tag) for _ in range(20)]
        assert set(statuses(queued).values()) == {"QUEUED"}
    finally:
        docker("start", daemon)
    started = time.monotonic()
    FIGURES["daemon_restarted_20_queued"] = outcome(queued, tag, started, timeout=600)
    containers = [docker("ps", "-aq", "--filter", f"label=dagster/run_id={r}").split() for r in queued]
    FIGURES["daemon_restarted_20_queued"]["containers_per_run"] = sorted({len(c) for c in containers})
    assert FIGURES["daemon_restarted_20_queued"]["runs_lost"] == 0
    assert sorted(r["runId"] for r in runs("heartbeat_job", tag)) == sorted(queued)
    assert all(len(c) <= 1 for c in containers)  # removed after 5 min, never two


def test_backup_and_restore_bring_back_run_history():
    kept = wait_for_status(heartbeat(0, {"e2e/backup": "before"}), {"SUCCESS"})
    backup = subprocess.run(["make", "backup"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
    assert backup.returncode == 0, backup.stdout + backup.stderr
    path = backup.stdout.strip().splitlines()[-1].split()[-1]
    assert Path(ROOT / path).stat().st_size > 0

    after = wait_for_status(heartbeat(0, {"e2e/backup": "after"}), {"SUCCESS"})
    restore = subprocess.run(["make", "restore", f"BACKUP={path}"], cwd=ROOT, capture_output=True, text=True,
                             timeout=600, env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert run_info(kept["runId"])["status"] == "SUCCESS"
    missing = gql("query($id: ID!) { runOrError(runId: $id) { __typename } }", id=after["runId"])
    assert missing["runOrError"]["__typename"] == "RunNotFoundError"
    FIGURES["backup_restore"] = {"backup": path, "restored_runs_found": 1, "runs_after_backup_gone": 1}


def test_run_container_crashing_at_start_fails_with_its_last_log_lines(tmp_path):
    """A run whose container cannot even open the instance (its location's
    credentials volume is left out of the container context) fails once the start
    timeout (90 s) passes, with the container's own last log lines in the failure,
    instead of staying STARTING."""
    # The location services are generated from dg.toml (platformctl.generate); an override
    # file after them (COMPOSE_OVERRIDE) replaces housekeeping's container context.
    generated = yaml.safe_load(locations_compose(ROOT))["services"]["housekeeping"]["environment"]
    context = json.loads(generated["DAGSTER_CONTAINER_CONTEXT"])
    assert context["docker"]["container_kwargs"]["volumes"] == [
        "${PROJECT:-dagster-platform}_secrets-housekeeping:/run/secrets/platform:ro"]
    context["docker"]["container_kwargs"]["volumes"] = []
    override = tmp_path / "no-credentials.yaml"
    override.write_text(yaml.safe_dump({"services": {"housekeeping": {"environment": {
        "DAGSTER_CONTAINER_CONTEXT": json.dumps(context)}}}}))
    repo = copy_repo(tmp_path / "repo")
    try:
        swapped = make(repo, "deploy", "LOCATION=housekeeping", f"COMPOSE_OVERRIDE={override}")
        assert swapped.returncode == 0, swapped.stdout + swapped.stderr
        run_id = launch("housekeeping", "probe_job")
        started = time.monotonic()
        failed = wait_for_status(run_id, {"FAILURE"}, timeout=240)
        detected = time.monotonic() - started
    finally:
        restored = make(ROOT, "deploy", "LOCATION=housekeeping")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    failure = run_failure(run_id)
    assert failed["status"] == "FAILURE"
    assert "last 50 log lines" in failure, failure
    assert "DAGSTER_PG_USER" in failure, failure  # what the container said before it died
    FIGURES["run_container_crashed_at_start"] = {"seconds_to_failure": round(detected, 1),
                                                "failure_has_container_logs": True}
