"""`make dev`: the pipeline's three locations in one `dagster dev`, with no Docker,
on the embedded defaults (SQLite, local folders, DuckDB); the same dbt models as
in the compose stack, here on DuckDB. And `dg dev` in one location's folder."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.e2e import platform

ROOT = Path(__file__).resolve().parents[1]
LOCATIONS = ["ingest", "transform", "reports"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, log) -> None:
    """The dev server's whole process group: SIGTERM, then SIGKILL after a minute."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dev")
    port = free_port()
    log = open(data_dir / "dagster-dev.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "platformctl", "dev", "--port", str(port), "--data-dir", str(data_dir), *LOCATIONS],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}, "PLATFORM_ROOT": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    saved = platform.WEBSERVER
    platform.WEBSERVER = url
    try:
        def loaded():
            if proc.poll() is not None:
                raise AssertionError(f"dagster dev exited:\n{(data_dir / 'dagster-dev.log').read_text()[-3000:]}")
            entries = platform.gql(
                "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
            )["workspaceOrError"]["locationEntries"]
            return sorted(e["name"] for e in entries if e["loadStatus"] == "LOADED") == sorted(LOCATIONS)

        platform.poll(loaded, timeout=240, interval=2, what="dagster dev to load the three locations",
                      transient=(OSError, platform.requests.RequestException))
        yield data_dir
    finally:
        platform.WEBSERVER = saved
        stop(proc, log)


def test_ingest_run_flows_to_transform_and_reports_on_duckdb(dev_server):
    run_id = platform.launch("ingest", "ingest_job", tags={"dagster/partition": "2024-01-03"})
    ingest = platform.wait_for_status(run_id, {"SUCCESS"}, timeout=240)
    transform = platform.wait_for_run("transform_job", created_after=ingest["endTime"] - 1, timeout=300)
    reports = platform.wait_for_run("reports_job", created_after=transform["endTime"] - 1, timeout=300)
    assert reports["status"] == "SUCCESS"
    platform.poll(lambda: not platform.gql(
        'query { runsOrError(filter: {statuses: [QUEUED, STARTING, STARTED]}) { ... on Runs { results { runId } } } }'
    )["runsOrError"]["results"], timeout=120, what="the dev instance to go idle")

    # The last run's process may still be exiting and holding the file's lock.
    db = platform.poll(lambda: duckdb.connect(str(dev_server / "warehouse.duckdb"), read_only=True),
                       timeout=60, what="the warehouse file to be free", transient=(duckdb.IOException,))
    with db:
        raw_orders = db.execute("SELECT count(*) FROM raw.orders WHERE order_date = '2024-01-03'").fetchone()[0]
        raw_cents = db.execute("SELECT sum(amount_cents) FROM raw.payments").fetchone()[0]
        mart_cents = db.execute("SELECT sum(amount_cents) FROM marts.orders").fetchone()[0]
        report_orders = db.execute("SELECT sum(orders) FROM reports.daily_revenue").fetchone()[0]
    assert raw_orders == 40
    assert raw_cents == mart_cents > 0
    assert report_orders == 40
    charts = list((dev_server / "objects" / "dagster-data" / "charts").glob("*.png"))
    assert charts and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in charts)


def test_dg_dev_serves_one_location_alone_from_its_folder(tmp_path):
    """README's `dg dev` for a team working alone: the location's own environment, its own
    UI, nothing else of the platform."""
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "VIRTUAL_ENV"))},
           "DAGSTER_HOME": str(home), "DAGSTER_PLATFORM_LOCAL_DIR": str(tmp_path / "data")}
    log = open(tmp_path / "dg-dev.log", "w")
    proc = subprocess.Popen([os.environ.get("UV", "uv"), "run", "--frozen", "--group", "dev", "dg", "dev",
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT / "code_locations/housekeeping", stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env)
    saved = platform.WEBSERVER
    platform.WEBSERVER = f"http://127.0.0.1:{port}"
    try:
        def entries():
            if proc.poll() is not None:
                raise AssertionError(f"dg dev exited:\n{(tmp_path / 'dg-dev.log').read_text()[-3000:]}")
            found = platform.gql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
            return {e["name"]: e["loadStatus"] for e in found["workspaceOrError"]["locationEntries"]}

        loaded = platform.poll(lambda: (e := entries()).get("housekeeping") == "LOADED" and e, timeout=240,
                               interval=2, what="dg dev to load housekeeping",
                               transient=(OSError, platform.requests.RequestException))
        assert loaded == {"housekeeping": "LOADED"}
        jobs = platform.jobs_of("housekeeping")
        assert {"probe_job", "heartbeat_job", "run_retention_job"} <= set(jobs)
    finally:
        platform.WEBSERVER = saved
        stop(proc, log)
