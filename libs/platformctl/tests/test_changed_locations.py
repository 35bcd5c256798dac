"""CI's matrix: the locations a change touches, from dg.toml's list, and whether the platform
suite must run (platformctl changed-locations; the workflow's own tests are tests/test_ci_workflow.py)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from platformctl import deploy, locations
from platformctl.changed_locations import changed_locations, known_locations, platform_changed

ALL = ["ingest", "transform", "reports"]  # the fixture's dg.toml order


@pytest.mark.parametrize(("paths", "expected"), [
    (["code_locations/ingest/src/ingest/defs/assets.py"], ["ingest"]),
    (["code_locations/reports/tests/test_charts.py", "code_locations/ingest/uv.lock"], ["ingest", "reports"]),
    (["libs/platform_common/src/platform_common/warehouse.py"], ALL),
    (["libs/platform_services/pyproject.toml", "docs/operations.md"], ALL),
    (["docker/Dockerfile"], ALL),
    (["docker/strip-native.sh"], ALL),
    ([".dockerignore"], ALL),
    ([".github/workflows/locations.yml"], ALL),
    (["libs/platformctl/src/platformctl/changed_locations.py"], ALL),
    (["libs/platformctl/src/platformctl/deploy.py"], []),  # tooling: no location image holds it
    (["docs/operations.md"], []),
    (["docs/operations.md", "helm/values/ingest.yaml", "README.md", "tests/test_config.py"], []),
    (["docker/compose.yaml", "workspace.yaml", "Makefile", "dg.toml"], []),
    (["code_locations/gone/pyproject.toml"], []),  # a location that was removed
    (["code_locations/README.md"], []),
    ([], []),
])
def test_changed_locations(paths, expected):
    assert changed_locations(paths, ALL) == expected


@pytest.mark.parametrize("path", [
    "dagster.yaml", "workspace.yaml", "dg.toml", "docker/compose.yaml", "libs/platformctl/src/platformctl/deploy.py",
    "helm/dagster-platform/values.yaml", "helm/values/ingest.yaml", "libs/platform_services/src/x.py",
    "tests/test_config.py", "tests/helm/helm_harness.py", "Makefile", "pyproject.toml", "uv.lock",
    ".github/workflows/locations.yml", ".github/CODEOWNERS", ".ci/run", "README.md", ".env.example",
    "code_locations/ingest/uv.lock", "code_locations/reports/pyproject.toml",
])
def test_platform_files_select_the_platform_suite(path):
    assert platform_changed(["docs/operations.md", path]) is True


@pytest.mark.parametrize("paths", [
    ["docs/operations.md", "docs/images/asset-graph.png"],
    ["code_locations/ingest/src/ingest/defs/assets.py", "code_locations/transform/tests/test_x.py"],
    ["code_locations/README.md"],
    [],
])
def test_location_code_and_docs_do_not_select_the_platform_suite(paths):
    assert platform_changed(paths) is False


def test_every_input_of_every_location_image_selects_all_locations():
    for path in [*deploy.COMMON_INPUTS, *(f"{lib}/pyproject.toml" for lib in deploy.LOCATION_LIBS)]:
        assert changed_locations([path], ALL) == ALL, path


def test_known_locations_are_dg_tomls(repo):
    assert known_locations(repo) == ALL
    assert known_locations(REPO) == locations.names(REPO)


def run_script(root, *args: str, stdin: str = "") -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "libs/platformctl/src"), "PLATFORM_ROOT": str(root)}
    result = subprocess.run([sys.executable, "-m", "platformctl", "changed-locations", *args], input=stdin,
                            env=env, capture_output=True, text=True, check=True, timeout=60)
    return json.loads(result.stdout)


def test_the_command_reads_git_diff_output_and_prints_compact_json(repo):
    assert run_script(repo, stdin="code_locations/ingest/src/ingest/definitions.py\n") == ["ingest"]
    assert run_script(repo, stdin="libs/platform_common/pyproject.toml\n") == ALL
    assert run_script(repo, stdin="docs/adding-a-location.md\n") == []
    assert run_script(repo, stdin="") == []
    assert run_script(repo, "--all") == ALL
    assert run_script(repo, "--platform", stdin="helm/dagster-platform/values.yaml\n") is True
    assert run_script(repo, "--platform", stdin="docs/a.md\ncode_locations/ingest/x.py\n") is False
    env = {**os.environ, "PYTHONPATH": str(REPO / "libs/platformctl/src"), "PLATFORM_ROOT": str(repo)}
    out = subprocess.run([sys.executable, "-m", "platformctl", "changed-locations", "code_locations/transform/x.sh"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out == '["transform"]\n'


def test_a_list_that_disagrees_with_the_folders_stops_the_matrix(repo):
    (repo / "dg.toml").write_text((repo / "dg.toml").read_text().replace("reports", "reprts"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "libs/platformctl/src"), "PLATFORM_ROOT": str(repo)}
    done = subprocess.run([sys.executable, "-m", "platformctl", "changed-locations", "--all"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "dg.toml:12: workspace.projects[2] path = 'code_locations/reprts': no such folder" in done.stderr
