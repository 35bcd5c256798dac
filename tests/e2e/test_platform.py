"""The platform end to end: three locations, runs in their own containers,
the cross-location chain, compute logs that outlive containers, termination."""

import json
import uuid
from pathlib import Path

import pytest
import yaml

from tests.e2e.platform import (
    docker,
    gql,
    inspect,
    instance_sql,
    launch,
    poll,
    psql,
    run_events,
    run_info,
    service_container,
    wait_for_run,
    wait_for_status,
)

ROOT = Path(__file__).resolve().parents[2]
LOCATIONS = {"ingest", "transform", "reports"}

WORKSPACE = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def test_webserver_lists_exactly_three_loaded_locations():
    entries = gql(WORKSPACE)["workspaceOrError"]["locationEntries"]
    assert {e["name"] for e in entries} == LOCATIONS
    for e in entries:
        assert e["loadStatus"] == "LOADED", e
        assert e["locationOrLoadError"]["__typename"] == "RepositoryLocation", e


@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_each_code_server_is_one_grpc_process(location):
    # `dagster code-server start` would add a proxy process (68 MiB) in front of it.
    top = [line.split(None, 1)[1] for line in docker("top", service_container(location), "-o", "pid,args").splitlines()[1:]]
    # Not counted: a healthcheck that may be running (python -m platform_services.health)
    # and multiprocessing's resource tracker, which a library in transform starts.
    commands = [c for c in top if "/bin/dagster " in c]
    assert len(commands) == 1, top
    assert "dagster api grpc" in commands[0] and f"--module-name {location}.definitions" in commands[0]


@pytest.fixture(scope="module")
def chain_runs():
    """An ingest run launched through the API; transform follows through its
    asset sensor, reports through its run-status sensor on transform_job."""
    ingest = wait_for_status(launch("ingest", "ingest_job", tags={"dagster/partition": "2024-01-02"}), {"SUCCESS"})
    # transform runs one at a time: this one may queue behind the runs the sensor
    # starts for the previous module's ingest runs (each 1-2 min on 2 cores).
    transform = wait_for_run("transform_job", created_after=ingest["endTime"] - 1, timeout=900)
    reports = wait_for_run("reports_job", created_after=transform["endTime"] - 1, timeout=600)
    return {"ingest": ingest, "transform": transform, "reports": reports}


def test_a_job_in_each_location_succeeds(chain_runs):
    assert {loc: run["status"] for loc, run in chain_runs.items()} == dict.fromkeys(LOCATIONS, "SUCCESS")


def test_each_run_ran_in_its_own_container_from_its_location_image(chain_runs):
    containers = set()
    for location, run in chain_runs.items():
        container_id = run["tags"]["docker/container_id"]
        containers.add(container_id)
        info = poll(lambda: (i := inspect(container_id))["State"]["Status"] == "exited" and i,
                    timeout=60, what=f"{location}'s run container to exit")
        server_image = inspect(service_container(location))["Config"]["Image"]
        assert info["Config"]["Image"] == server_image == run["tags"]["dagster/image"]
        assert f"/dagster-platform/{location}:" in server_image
        assert info["Config"]["Labels"]["dagster/run_id"] == run["runId"]
        assert info["Config"]["Labels"]["dagster-platform/location"] == location
        assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 0
        assert info["Config"]["User"] == "10001"
        # The image's code-server healthcheck is switched off for runs (dagster.yaml).
        assert info["Config"]["Healthcheck"]["Test"] == ["NONE"]
    assert len(containers) == 3


ASSET = """
query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename
  ... on Asset { assetMaterializations(limit: 1) { runId timestamp } } } }"""


def test_chain_materialized_in_order_with_consistent_data(chain_runs):
    stamps = []
    for location, key in [("ingest", ["raw", "orders"]), ("transform", ["marts", "orders"]),
                          ("reports", ["reports", "daily_revenue"])]:
        [mat] = gql(ASSET, key={"path": key})["assetOrError"]["assetMaterializations"]
        assert mat["runId"] == chain_runs[location]["runId"]
        stamps.append(float(mat["timestamp"]))
    assert stamps == sorted(stamps)

    [[raw_orders, raw_cents]] = psql("SELECT count(*), sum(amount_cents) FROM raw.payments p "
                                     "JOIN (SELECT DISTINCT order_id FROM raw.orders) o USING (order_id)")
    [[mart_orders, mart_cents]] = psql("SELECT count(DISTINCT order_id), sum(amount_cents) FROM marts.orders")
    assert int(raw_cents) == int(mart_cents) > 0
    [[report_orders]] = psql("SELECT sum(orders) FROM reports.daily_revenue")
    [[n_orders]] = psql("SELECT count(*) FROM raw.orders")
    assert int(report_orders) == int(mart_orders) == int(n_orders) > 0
    [[day_orders]] = psql("SELECT count(*) FROM raw.orders WHERE order_date = '2024-01-02'")
    assert int(day_orders) == 40  # the generator's default orders per day


CAPTURED = """
query($logKey: [String!]!) { capturedLogs(logKey: $logKey) { stdout stderr } }"""


def test_compute_logs_survive_the_container():
    marker = f"probe-{uuid.uuid4().hex[:8]}"
    run_id = launch("ingest", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 2, "message": marker}}}})
    run = wait_for_status(run_id, {"SUCCESS"})
    container_id = run["tags"]["docker/container_id"]
    docker("rm", "-f", container_id)
    assert docker("ps", "-aq", "--filter", f"id={container_id}") == ""

    [file_key] = {e["fileKey"] for e in run_events(run_id) if e["__typename"] == "LogsCapturedEvent"}

    def logs():
        captured = gql(CAPTURED, logKey=[run_id, "compute_logs", file_key])["capturedLogs"]
        return captured if marker in (captured["stdout"] or "") else None

    captured = poll(logs, timeout=60, what="captured stdout in the object store")
    assert f"{marker} stdout 1" in captured["stdout"]
    assert f"{marker} stderr 1" in captured["stderr"]


TERMINATE = """
mutation($runId: String!) { terminateRun(runId: $runId) { __typename
  ... on TerminateRunSuccess { run { runId } } ... on PythonError { message } } }"""


def test_terminated_run_is_canceled_and_its_container_stops():
    run_id = launch("ingest", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 600}}}})
    run = wait_for_status(run_id, {"STARTED"})
    container_id = run["tags"]["docker/container_id"]
    assert inspect(container_id)["State"]["Running"] is True

    result = gql(TERMINATE, runId=run_id)["terminateRun"]
    assert result["__typename"] == "TerminateRunSuccess", result

    assert wait_for_status(run_id, {"CANCELED"}, timeout=120)["status"] == "CANCELED"
    poll(lambda: not inspect(container_id)["State"]["Running"], timeout=60, what="the run container to stop")
    assert run_info(run_id)["status"] == "CANCELED"


def backends_of(service: str) -> dict[str, float]:
    """Postgres backends (pid -> age in seconds) serving `service`'s container."""
    networks = inspect(service_container(service))["NetworkSettings"]["Networks"]
    [address] = {n["IPAddress"] for n in networks.values()}
    rows = instance_sql("SELECT pid, extract(epoch FROM now() - backend_start) FROM pg_stat_activity "
                        f"WHERE client_addr = '{address}' AND backend_type = 'client backend'")
    return {pid: float(age) for pid, age in rows}


def test_the_daemon_reuses_its_postgres_connections():
    """platform_services.storage: the daemon's queries (sensor ticks every few
    seconds, the run queue every second) go over pooled connections, not one new
    connection (and password exchange) per query. Under NullPool no daemon
    connection outlives its query. The pool keeps 2; when 3 of the daemon's
    threads query at once, the extra one is closed on return, so any one
    connection may be replaced: what is asserted is that some connection lives
    15 s (three sensor ticks), not which."""
    poll(lambda: backends_of("daemon"), timeout=60, what="a pooled daemon connection")
    ages = poll(lambda: (b := backends_of("daemon")) and max(b.values()) >= 15 and b,
                timeout=120, interval=1, what="a daemon connection kept for 15 s")
    assert max(ages.values()) >= 15, ages


def pool_idle_seconds() -> int:
    """dagster.yaml's storage pool idle_seconds, as the stack runs it."""
    storage = yaml.safe_load((ROOT / "dagster.yaml").read_text())["storage"]["custom"]
    return int(storage["config"]["pool"]["idle_seconds"])


def test_an_idle_webserver_closes_its_postgres_connections_and_opens_one_when_asked():
    """platform_services.storage.IdleCloser: nothing asks the webserver anything
    here (its health check does not query Postgres), so once its pool has been
    unused for idle_seconds it closes its connections; the next request opens one."""
    idle = pool_idle_seconds()
    assert idle > 0
    # The tests before this one used the webserver; the daemon test has waited 15 s since.
    poll(lambda: not backends_of("webserver"), timeout=idle + 60, interval=2,
         what="the idle webserver to close its Postgres connections")
    assert backends_of("daemon"), "the daemon, busy every second, keeps its pool"
    # Asking for the runs themselves reads Postgres (the type name alone would not).
    [latest] = gql("{ runsOrError(limit: 1) { ... on Runs { results { runId } } } }")["runsOrError"]["results"]
    assert latest["runId"]
    assert backends_of("webserver"), "a query after the idle period opens a connection again"


CONNECTS_PER_INSTANCE = r"""
import json, os, pathlib, sys, tempfile
import psycopg2
from sqlalchemy import text

home = pathlib.Path(tempfile.mkdtemp())
(home / "dagster.yaml").write_text(sys.stdin.read())
os.environ["DAGSTER_HOME"] = str(home)
connects = []
real_connect = psycopg2.connect
def counting_connect(*args, **kwargs):
    connects.append(1)
    return real_connect(*args, **kwargs)
psycopg2.connect = counting_connect  # SQLAlchemy's psycopg2 dialect calls it by attribute

from dagster import AssetKey, DagsterInstance
from platform_services import storage

ref = DagsterInstance.get().get_ref()  # the process's first instance: it checks the tables
counts = []
for _ in range(3):  # as a code server does for each sensor evaluation
    before = len(connects)
    with DagsterInstance.from_ref(ref) as instance:
        instance.get_runs(limit=1)
        instance.all_instigator_state()
        instance.get_latest_materialization_event(AssetKey(["raw", "orders"]))
    counts.append(len(connects) - before)
engine = DagsterInstance.from_ref(ref).run_storage._engine
with engine.connect() as conn:
    here = conn.execute(storage._TABLES_PRESENT).scalar()
    conn.execute(text("SET search_path TO no_such_schema"))
    empty = conn.execute(storage._TABLES_PRESENT).scalar()
print(json.dumps({"counts": counts, "here": here, "empty": empty}))
"""


def test_opening_an_instance_costs_one_postgres_connection():
    """platform_services.storage: dagster_postgres checks its tables with one
    inspector per storage, each on a new connection, at every instance a process
    opens (a code server: one per sensor evaluation). Ours asks once per process."""
    script = docker("exec", "-i", service_container("ingest"), "python", "-W", "ignore", "-c",
                    CONNECTS_PER_INSTANCE, input_text=(ROOT / "dagster.yaml").read_text())
    result = json.loads(script.splitlines()[-1])
    assert result == {"counts": [1, 1, 1], "here": True, "empty": False}
