"""dbt-core only where the dbt step runs (transform.STEP_ONLY_PACKAGES).

The images' `dagster` keeps dbt-core out of transform's code server and run
workers (platform_services.cli). That is safe only while dagster-dbt builds the
same definitions without it, and while the step that needs it cannot run in a
process without it. Each case starts its own interpreter: a module kept out is
kept out for the life of the process.
"""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from transform import dbt_core
from transform.definitions import defs

# The location package's declaration, read and applied as the images' `dagster`
# does for `dagster api grpc` in the transform image.
KEEP_OUT = """
from platform_services import cli
location, packages = cli.step_only_packages(["api", "grpc"], {"DAGSTER_LOCATION_NAME": "transform"})
assert (location, packages) == ("transform", ("dbt",)), (location, packages)
cli.keep_out(packages, location)
"""

SNAPSHOT = """
import json, sys
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from dagster_shared.libraries import DagsterLibraryRegistry
from transform.definitions import defs

repo = defs().get_repository_def()
print(json.dumps({
    "repository": serialize_value(RepositorySnap.from_def(repo)),
    "job_snapshot_id": repo.get_job("transform_job").get_job_snapshot_id(),
    "dbt_modules": sorted(m for m in sys.modules if m.partition(".")[0] in ("dbt", "dbt_common")),
    "libraries": {k: v for k, v in DagsterLibraryRegistry.get().items() if k.startswith("dbt")},
}))
"""


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # One hash seed for both processes: the snapshot lists some resources in set order.
    return subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env, "PYTHONHASHSEED": "0"})


def snapshot(keep_out: bool, platform_env: str) -> dict:
    proc = python((KEEP_OUT if keep_out else "") + SNAPSHOT, {"DAGSTER_PLATFORM_ENV": platform_env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("platform_env", ["docker", "k8s"])
def test_without_dbt_core_the_code_server_serves_the_same_definitions(platform_env):
    """What the code server serves (every asset, check, job, sensor, resource) and the
    job the run worker plans, byte for byte, with and without dbt-core."""
    with_dbt, without = snapshot(False, platform_env), snapshot(True, platform_env)
    assert "dbt.version" in with_dbt["dbt_modules"]
    assert without["dbt_modules"] == []
    assert without["job_snapshot_id"] == with_dbt["job_snapshot_id"]
    assert without["repository"] == with_dbt["repository"]
    # Not two empty repositories: 9 assets, 19 checks (dbt's tests and payments_reconcile).
    repository = json.loads(without["repository"])
    assert len(repository["external_asset_graph_data"]) == 9
    assert len(repository["external_asset_checks"]) == 19


def test_the_location_reports_dbt_core_and_its_version_either_way():
    """dagster-dbt alone would report "dbt-fusion", version "unknown", in the UI."""
    from importlib.metadata import version

    expected = {"dbt-core": version("dbt-core")}
    assert snapshot(False, "docker")["libraries"] == expected
    assert snapshot(True, "docker")["libraries"] == expected


def test_a_dbt_step_without_dbt_core_fails_and_says_why(local_environment):
    """Run in process (the local executor), in a process that kept dbt-core out."""
    code = KEEP_OUT + """
from raw_tables import RAW, load_raw
from platform_common import Warehouse
from transform.definitions import defs
import os
load_raw(Warehouse(backend="duckdb", duckdb_path=os.path.join(os.environ["DAGSTER_PLATFORM_LOCAL_DIR"], "warehouse.duckdb")), RAW)
result = defs().resolve_job_def("transform_job").execute_in_process(raise_on_error=False)
failure = next(e for e in result.all_events if e.is_step_failure)
print(result.success, failure.step_key, "|", failure.step_failure_data.error.message.replace(chr(10), " "))
"""
    tests_dir = os.path.dirname(__file__)
    proc = python(code, {"DAGSTER_PLATFORM_ENV": "local", "DAGSTER_PLATFORM_LOCAL_DIR": str(local_environment),
                         "PYTHONPATH": os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))})
    assert proc.returncode == 0, proc.stderr[-3000:]
    success, step, message = proc.stdout.splitlines()[-1].split(" ", 2)
    assert (success, step) == ("False", "transform_dbt")
    assert "dbt-core is not imported in this process" in message
    assert "transform.STEP_ONLY_PACKAGES" in message and "multiprocess executor" in message


def test_in_this_process_dbt_core_is_imported_and_the_step_may_run():
    assert dbt_core.imported()
    dbt_core.require()  # does not raise


def test_docker_and_k8s_run_each_step_in_a_process_of_its_own(monkeypatch):
    """in_process would run the dbt step inside the run worker, which keeps dbt-core out."""
    for platform_env in ("docker", "k8s"):
        monkeypatch.setenv("DAGSTER_PLATFORM_ENV", platform_env)
        job = defs().resolve_job_def("transform_job")
        assert job.executor_def is dg.multiprocess_executor, platform_env
        config_fields = job.executor_def.config_schema.config_type.fields
        assert "in_process" not in config_fields and "max_concurrent" in config_fields


def test_the_package_declaration_is_read_without_importing_anything():
    """The images' `dagster` imports `transform` before it keeps dbt-core out."""
    proc = python("import sys; before = set(sys.modules); import transform; "
                  "print(transform.STEP_ONLY_PACKAGES, sorted(set(sys.modules) - before))", {})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "('dbt',) ['transform']"
