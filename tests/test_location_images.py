"""What a code-location image needs to run a run, and nothing more.

A run container (compose) or run pod (Helm) loads the instance from the
launcher's dagster.yaml: its storage, compute log manager and run coordinator
(the executor reads the concurrency limits), but not the run launcher, which
only the webserver and daemon use. So the location images leave out dagster-k8s
and the Kubernetes client, and these tests prove that a run worker started
from each location's own environment succeeds under both instance
configurations.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from platform_services import startup_gc

from tests.e2e.platform import LOCATIONS
from tests.helm.helm_harness import config_map_file, render_chart

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "data" / "run_worker.py"
UV = os.environ.get("UV") or shutil.which("uv") or "uv"
K8S_PACKAGES = {"dagster-k8s", "kubernetes"}


def image_packages(location: str) -> set[str]:
    """The packages the image installs: the lock's main dependencies, as `uv sync --no-dev` does."""
    out = subprocess.run([UV, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
                          "--no-header", "--no-annotate"], cwd=ROOT / "code_locations" / location,
                         check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("-e "):  # a path dependency: libs/platform_common
            names.add(Path(line[3:]).name.replace("_", "-"))
        elif line and not line.startswith(("#", "-")):
            names.add(line.split("==")[0].split(" @ ")[0].split(";")[0].strip().lower())
    return names


@pytest.mark.parametrize("location", LOCATIONS)
def test_no_location_image_installs_the_kubernetes_client(location):
    packages = image_packages(location)
    assert {"dagster", "dagster-postgres", "dagster-aws", "platform-common", "platform-services"} <= packages
    assert not packages & K8S_PACKAGES


USES_DUCKDB = re.compile(r"^\s*import duckdb\b|ParquetIOManager\(|to_parquet_bytes\(|csv_by_duckdb=True|is_archived\(",
                         re.M)


def uses_duckdb(location: str) -> bool:
    """Writes Parquet (platform_common's ParquetIOManager or to_parquet_bytes), reads a
    landing archive's metadata (is_archived), has DuckDB write its COPY input, or
    computes with DuckDB itself."""
    sources = [p.read_text() for p in (ROOT / f"code_locations/{location}/src").rglob("*.py")]
    return any(USES_DUCKDB.search(s) for s in sources)


@pytest.mark.parametrize("location", LOCATIONS)
def test_only_the_images_that_use_duckdb_install_it(location):
    assert ("duckdb" in image_packages(location)) == uses_duckdb(location)


def test_duckdb_is_used_where_the_pipelines_say():
    assert [loc for loc in LOCATIONS if uses_duckdb(loc)] == ["ingest", "housekeeping"]


def test_transform_installs_sqlglot_without_its_compiled_build():
    packages = image_packages("transform")
    assert "sqlglot" in packages and "sqlglotc" not in packages


def compose_instance() -> dict:
    return yaml.safe_load((ROOT / "dagster.yaml").read_text())


def helm_instance() -> dict:
    return config_map_file(render_chart(), "dagster-platform-instance", "dagster.yaml")


def local_only(config: dict, home: Path) -> dict:
    """The same instance on local storage: the fast suite has no Postgres or object store.
    Everything else (run launcher, coordinator, monitoring, retries) stays as deployed."""
    return {**config, "storage": {"sqlite": {"base_dir": str(home / "storage")}},
            "compute_logs": {"module": "dagster._core.storage.local_compute_log_manager",
                             "class": "LocalComputeLogManager", "config": {"base_dir": str(home / "logs")}}}


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize(("deployment", "instance", "launcher"), [
    ("compose", compose_instance, "platform_services.run_launcher.PlatformDockerRunLauncher"),
    ("helm", helm_instance, "dagster_k8s.K8sRunLauncher"),
])
def test_a_run_worker_from_the_location_environment_succeeds(location, deployment, instance, launcher, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(local_only(instance(), home)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "VIRTUAL_ENV"))}
    # As the location images set it (docker/Dockerfile).
    env[startup_gc.ENV_VAR] = startup_gc.ENABLED
    proc = subprocess.run([UV, "run", "--frozen", "--exact", "--group", "dev", "python", str(WORKER)],
                          cwd=ROOT / "code_locations" / location, env={**env, "DAGSTER_HOME": str(home)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["launcher_class"] == launcher
    assert result["importable"] == {"dagster_k8s": False, "kubernetes": False, "platform_services": True}
    assert (result["status"], result["returncode"]) == ("SUCCESS", 0), result["output"]
    # Dagster's `api execute_run` held the collector back until the code was loaded,
    # froze what it had loaded and ran the step with Python's own thresholds (docs/adr/0007).
    ((threshold, frozen),) = result["startup_gc"]
    assert int(threshold) == gc.get_threshold()[0] == 700
    assert int(frozen) > 50_000
