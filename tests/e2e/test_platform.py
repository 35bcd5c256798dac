"""The platform end to end: every location of dg.toml, runs in their own containers,
the cross-location chain, compute logs that outlive containers, termination."""

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.platform import (
    DOCKER,
    LOCATIONS,
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
    wait_for_last_run,
    wait_for_status,
)

ROOT = Path(__file__).resolve().parents[2]

WORKSPACE = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def test_webserver_lists_exactly_the_locations_of_dg_toml_all_loaded():
    entries = gql(WORKSPACE)["workspaceOrError"]["locationEntries"]
    assert sorted(e["name"] for e in entries) == sorted(LOCATIONS)
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
    # starts for the previous module's ingest runs (each 1-2 min on 2 cores), and
    # the sensor may start more than one after this ingest run: the last to run
    # wrote the tables, so it is the one the chain checks.
    transform = wait_for_last_run("transform_job", created_after=ingest["endTime"] - 1, timeout=900)
    reports = wait_for_last_run("reports_job", created_after=transform["endTime"] - 1, timeout=600)
    return {"ingest": ingest, "transform": transform, "reports": reports}


def test_a_job_in_each_location_of_the_data_chain_succeeds(chain_runs):
    # housekeeping is no link of the chain: its jobs run in test_retention and test_faults.
    assert {loc: run["status"] for loc, run in chain_runs.items()} == dict.fromkeys(
        ("ingest", "transform", "reports"), "SUCCESS")


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
    run_id = launch("housekeeping", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 2, "message": marker}}}})
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
    run_id = launch("housekeeping", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 600}}}})
    run = wait_for_status(run_id, {"STARTED"})
    container_id = run["tags"]["docker/container_id"]
    assert inspect(container_id)["State"]["Running"] is True

    result = gql(TERMINATE, runId=run_id)["terminateRun"]
    assert result["__typename"] == "TerminateRunSuccess", result

    assert wait_for_status(run_id, {"CANCELED"}, timeout=120)["status"] == "CANCELED"
    poll(lambda: not inspect(container_id)["State"]["Running"], timeout=60, what="the run container to stop")
    assert run_info(run_id)["status"] == "CANCELED"


def client_backends() -> list[tuple[str, str, float]]:
    """Postgres's client backends: (client address, user, age in seconds)."""
    rows = instance_sql("SELECT coalesce(host(client_addr), 'local'), usename, "
                        "extract(epoch FROM now() - backend_start) FROM pg_stat_activity "
                        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
    return [(address, user, float(age)) for address, user, age in rows]


def address_of(service: str) -> set[str]:
    networks = inspect(service_container(service))["NetworkSettings"]["Networks"]
    return {n["IPAddress"] for n in networks.values()}


def test_every_dagster_connection_reaches_postgres_through_pgbouncer():
    """Webserver, daemon, code servers and runs connect to PgBouncer; Postgres sees
    PgBouncer's server connections only (and psql's, on its own socket)."""
    poll(lambda: [b for b in client_backends() if b[0] != "local"], timeout=60, what="a server connection")
    direct = address_of("webserver") | address_of("daemon") | set().union(*(address_of(loc) for loc in LOCATIONS))
    clients = {address for address, _, _ in client_backends() if address != "local"}
    assert clients and clients <= address_of("pgbouncer") and not clients & direct


def test_pgbouncer_keeps_server_connections_warm_across_the_daemons_short_connections():
    """Dagster's NullPool opens a connection per query in the daemon; PgBouncer hands
    each the same warm server connection, so Postgres does not start a backend (and
    check a password) per query: some platform backend lives 15 s (three sensor ticks)."""
    ages = poll(lambda: [age for _, user, age in client_backends() if user.startswith("dagster_platform_")
                         and age >= 15] or None, timeout=120, interval=1,
                what="a platform server connection kept for 15 s")
    assert max(ages) >= 15


def test_postgres_is_not_on_the_platform_network():
    """Only PgBouncer and init share a network with Postgres (compose's `database`)."""
    probe = "import socket; socket.create_connection(('postgres', 5432), timeout=3)"
    proc = subprocess.run([DOCKER, "exec", service_container("ingest"), "python", "-c", probe],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "gaierror" in proc.stderr, proc.stderr
