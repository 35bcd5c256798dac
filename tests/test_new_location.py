"""`make new-location NAME=<name>` (docker/scripts/new_location.py), on copies of the repository.

No Docker: the scaffolded location is checked by parsing what it wired (PyYAML),
by the platform's own consistency checks pointed at the copy, and by running
the new location's own tests in its own environment (`uv lock` and `uv run`
need PyPI or a warm uv cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
import yaml

from tests.e2e.platform import copy_repo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helm"))  # helm_harness, as tests/helm's own tests import it
SCRIPT = Path("docker/scripts/new_location.py")
NAME = "billing"
ORIGINAL = ["ingest", "transform", "reports"]


def clean_env() -> dict[str, str]:
    """No make or virtualenv state from the outer run leaks into the copy's commands."""
    drop = ("MAKE", "MFLAGS", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTEST_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def make(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=repo, env=clean_env(),
                          capture_output=True, text=True, timeout=900)


def scaffold(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=repo, env=env or clean_env(),
                          capture_output=True, text=True, timeout=900)


def snapshot(repo: Path) -> dict[str, str]:
    """Every file under the copy (except .git) and its content hash."""
    return {
        p.relative_to(repo).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


# ----------------------------------------------------------- scaffolding


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("pristine") / "repo", extra=())


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory, pristine) -> tuple[Path, subprocess.CompletedProcess]:
    repo = tmp_path_factory.mktemp("scaffolded") / "repo"
    shutil.copytree(pristine, repo, symlinks=True)
    result = make(repo, "new-location", f"NAME={NAME}")
    assert result.returncode == 0, result.stdout + result.stderr
    return repo, result


@pytest.fixture(scope="module")
def repo(scaffolded) -> Path:
    return scaffolded[0]


def compose(repo: Path) -> dict:
    return yaml.safe_load((repo / "docker/compose.yaml").read_text())


def test_scaffolder_reports_what_it_wired(scaffolded):
    _, result = scaffolded
    for rel in [f"code_locations/{NAME}/", f"helm/values/{NAME}.yaml", "Makefile", ".env.example", "docker/compose.yaml",
                "workspace.yaml", "helm/dagster-platform/values.yaml", "README.md", "bench/compose.reference.yaml"]:
        assert rel in result.stdout


def test_the_benchmarks_reference_profile_runs_the_new_code_server_with_dagsters_own_dagster(repo):
    services = yaml.safe_load((repo / "bench/compose.reference.yaml").read_text())["services"]
    assert services[NAME] == services["ingest"]
    assert services[NAME]["environment"]["PATH"].startswith("/opt/venv/bin:")


def test_package_files(repo):
    project = repo / "code_locations" / NAME
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()
                  and ".venv" not in p.parts and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts) == [
        "pyproject.toml",
        f"src/{NAME}/__init__.py",
        f"src/{NAME}/definitions.py",
        f"src/{NAME}/defs/__init__.py",
        f"src/{NAME}/defs/assets.py",
        f"src/{NAME}/defs/jobs.py",
        "tests/conftest.py",
        "tests/test_definitions.py",
        "tests/test_grants.py",
        "uv.lock",
    ]
    definitions = (project / "src" / NAME / "definitions.py").read_text()
    assert "@dg.definitions\ndef defs()" in definitions
    assert "current_environment()" in definitions and "platform_resources(env)" in definitions
    assert f"def {NAME}_hello_job" in (project / "src" / NAME / "defs/jobs.py").read_text()
    assert not list((repo / "code_locations").glob(f".{NAME}.new-location-*")), "staging folder left behind"


def test_pyproject_has_the_same_pins_and_sources_as_the_others(repo):
    new = tomllib.loads((repo / "code_locations" / NAME / "pyproject.toml").read_text())
    ingest = tomllib.loads((repo / "code_locations/ingest/pyproject.toml").read_text())
    reports = tomllib.loads((repo / "code_locations/reports/pyproject.toml").read_text())
    assert new["project"]["name"] == NAME
    assert new["project"]["requires-python"] == ingest["project"]["requires-python"]
    # The platform's own dependencies, pinned as in every location; no DuckDB in the
    # image (ingest adds the extra for Parquet), but in the dev group as in reports.
    pins = {d for loc in (ingest, reports) for d in loc["project"]["dependencies"]}
    assert set(new["project"]["dependencies"]) <= pins
    assert [d.split("==")[0] for d in new["project"]["dependencies"]] == [
        "dagster", "dagster-postgres", "dagster-aws", "platform-services", "platform-common"]
    assert new["dependency-groups"] == reports["dependency-groups"]
    assert new["tool"]["uv"] == ingest["tool"]["uv"]  # platform-common/-services by path
    assert new["build-system"] == ingest["build-system"]
    assert new["tool"]["dagster"] == {"module_name": f"{NAME}.definitions", "code_location_name": NAME}
    assert new["tool"]["dagster-platform"] == {"warehouse": {"writes": [NAME], "reads": []},
                                               "object-store": {"reads": []}}
    text = (repo / "code_locations" / NAME / "pyproject.toml").read_text()
    assert "# The repo-wide Dagster release set" in text  # the pins keep their reasons


def test_lock_names_the_package_and_keeps_the_other_locations_versions(repo):
    def versions(path: Path) -> dict[str, str]:
        lock = tomllib.loads(path.read_text())
        return {p["name"]: p["version"] for p in lock["package"] if p["name"] not in {NAME, "ingest"}}

    lock = tomllib.loads((repo / "code_locations" / NAME / "uv.lock").read_text())
    [own] = [p for p in lock["package"] if p["name"] == NAME]
    assert own["source"] == {"editable": "."}
    assert versions(repo / "code_locations" / NAME / "uv.lock") == versions(repo / "code_locations/ingest/uv.lock")


def test_makefile_locations(repo):
    [line] = re.findall(r"^LOCATIONS := .+$", (repo / "Makefile").read_text(), re.M)
    assert line == f"LOCATIONS := {' '.join(ORIGINAL)} {NAME}"
    assert "new-location" in make(repo, "help").stdout


def test_compose_service_is_shaped_like_ingest(repo):
    data = compose(repo)
    service, ingest = data["services"][NAME], data["services"]["ingest"]
    assert service["image"] == (f"${{REGISTRY:-localhost}}/dagster-platform/{NAME}:"
                                f"${{{NAME.upper()}_TAG:?run through make, which sets the image tags}}")
    # `<<: *code-location` and `<<: *platform-env`: everything but the image and the label is ingest's.
    assert set(service) == set(ingest)
    assert {k: v for k, v in service.items() if k not in {"image", "environment", "volumes"}} == \
        {k: v for k, v in ingest.items() if k not in {"image", "environment", "volumes"}}
    env = dict(service["environment"])
    context = json.loads(env.pop("DAGSTER_CONTAINER_CONTEXT"))
    assert context == {"docker": {"container_kwargs": {
        "labels": {"dagster-platform/location": NAME},
        "volumes": [f"${{PROJECT:-dagster-platform}}_secrets-{NAME}:/run/secrets/platform:ro"]}}}
    assert service["volumes"] == [f"secrets-{NAME}:/run/secrets/platform:ro"]
    assert data["volumes"][f"secrets-{NAME}"] == {"external": True,
                                                  "name": f"${{PROJECT:-dagster-platform}}_secrets-{NAME}"}
    assert env == {k: v for k, v in ingest["environment"].items() if k != "DAGSTER_CONTAINER_CONTEXT"}
    for platform_service in ("webserver", "daemon"):
        assert data["services"][platform_service]["depends_on"][NAME] == {"condition": "service_healthy"}
    assert data["x-run-launching"]["depends_on"][NAME] == {"condition": "service_healthy"}


def test_compose_edit_is_textual_and_keeps_comments_and_anchors(repo):
    before = (ROOT / "docker/compose.yaml").read_text()
    after = (repo / "docker/compose.yaml").read_text()
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    assert removed == []
    added = len(after.splitlines()) - len(before.splitlines())
    assert added == 11  # one depends_on line, a blank line, the eight-line service and its volume
    assert after.count("&code-location") == before.count("&code-location") == 1


def test_compose_passes_make_check_rules(repo):
    from check_config import check_compose, check_workspace

    env = {name: "x" for name in re.findall(r"\$\{(\w+):\?", (repo / "docker/compose.yaml").read_text())}
    assert check_compose(repo / "docker/compose.yaml", env) == []
    assert check_workspace(repo / "workspace.yaml") == []


def test_workspace_entry(repo):
    entries = [e["grpc_server"] for e in yaml.safe_load((repo / "workspace.yaml").read_text())["load_from"]]
    assert entries[-1] == {"host": NAME, "port": 4000, "location_name": NAME}
    assert [e["location_name"] for e in entries] == [*ORIGINAL, NAME]
    assert (repo / "workspace.yaml").read_text().startswith((ROOT / "workspace.yaml").read_text().rstrip("\n"))


def test_helm_values_and_platform_default(repo):
    values = yaml.safe_load((repo / "helm/values" / f"{NAME}.yaml").read_text())
    reports = yaml.safe_load((repo / "helm/values/reports.yaml").read_text())
    assert values["location"] == {"name": NAME, "module": f"{NAME}.definitions"}
    assert values["image"]["repository"] == f"dagster-platform/{NAME}"
    assert values["platform"] == reports["platform"]
    assert values["runResources"] == reports["runResources"]
    platform = yaml.safe_load((repo / "helm/dagster-platform/values.yaml").read_text())
    assert platform["codeLocations"][-1] == {"name": NAME, "host": f"dagster-code-{NAME}", "port": 4000,
                                             "credentialsSecret": "", "warehouse": {"writes": [NAME], "reads": []},
                                             "objectStore": {"reads": []}}
    assert [e["name"] for e in platform["codeLocations"]] == [*ORIGINAL, NAME]


def test_readme_table_row(repo):
    readme = (repo / "README.md").read_text()
    table = readme.split("| location | owns | what drives it |", 1)[1].split("\n\n", 1)[0]
    assert f"\n| `{NAME}` | " in table
    assert f"`{NAME}_hello_job`" in table


def test_the_platform_consistency_checks_pass_on_the_copy(repo, monkeypatch):
    """tests/test_consistency.py and tests/helm/test_helm_consistency.py with ROOT pointing at the copy."""
    import helm_harness
    import test_helm_consistency as helm_consistency

    from tests import test_consistency as consistency

    monkeypatch.setattr(consistency, "ROOT", repo)
    assert consistency.folder_locations() == {*ORIGINAL, NAME}
    for name, test in vars(consistency).items():
        if name.startswith("test_") and name != "test_three_locations":  # that one counts the original three
            test()

    monkeypatch.setattr(helm_consistency, "REPO_ROOT", repo)
    monkeypatch.setattr(helm_consistency, "LOCATION_VALUES_DIR", repo / "helm/values")
    monkeypatch.setattr(helm_harness, "LOCATION_VALUES_DIR", repo / "helm/values")
    monkeypatch.setattr(helm_consistency, "PLATFORM_CHART", repo / "helm/dagster-platform")
    monkeypatch.setattr(helm_consistency, "LOCATIONS", (*ORIGINAL, NAME))
    helm_consistency.test_locations_agree_everywhere()
    helm_consistency.test_values_files_are_named_after_their_location()


def test_the_copys_own_consistency_tests_pass(repo):
    """The copy's test files, run there. Tests that still hard-code the original three are
    deselected (with a warning) until they count the locations instead (see the report)."""
    deselect = []
    if "def test_three_locations" in (repo / "tests/test_consistency.py").read_text():
        deselect.append("tests/test_consistency.py::test_three_locations")
    if 'LOCATIONS = ("ingest", "transform", "reports")' in (repo / "tests/helm/helm_harness.py").read_text():
        deselect.append("tests/helm/test_helm_consistency.py::test_locations_agree_everywhere")
    if deselect:
        warnings.warn(f"deselected tests that hard-code three locations: {deselect}", stacklevel=1)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not e2e",
         "tests/test_consistency.py", "tests/helm/test_helm_consistency.py",
         *(f"--deselect={d}" for d in deselect)],
        cwd=repo, env=clean_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_new_locations_own_tests_pass(repo):
    uv = os.environ.get("UV", "uv")
    result = subprocess.run([uv, "run", "--locked", "--group", "dev", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=repo / "code_locations" / NAME, env=clean_env(),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout


# ------------------------------------------------------------- refusals


REFUSALS = [
    ("", "NAME is required"),
    ("Billing", "not a valid location name"),
    ("bad-name", "not a valid location name"),
    ("9lives", "not a valid location name"),
    ("_private", "not a valid location name"),
    ("with space", "not a valid location name"),
    ("café", "not a valid location name"),
    ("class", "is a Python keyword"),
    ("import", "is a Python keyword"),
    *[(name, "is reserved") for name in ("postgres", "s3", "init", "webserver", "daemon", "platform")],
    ("ingest", "location 'ingest' already exists: code_locations/ingest"),
    ("reports", "already exists"),
]


@pytest.mark.parametrize(("name", "message"), REFUSALS)
def test_refused_names_change_nothing(pristine, name, message):
    before = snapshot(pristine)
    result = scaffold(pristine, name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Nothing was changed." in result.stderr
    assert snapshot(pristine) == before


def test_refusal_through_make_names_the_problem(pristine):
    before = snapshot(pristine)
    result = make(pristine, "new-location", "NAME=Bad-Name")
    assert result.returncode != 0
    assert "'Bad-Name' is not a valid location name" in result.stderr
    assert snapshot(pristine) == before


@pytest.fixture
def spare(tmp_path, pristine) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(pristine, repo, symlinks=True)
    return repo


@pytest.mark.parametrize(("where", "message"), [
    ("compose", "a service in docker/compose.yaml"),
    ("workspace", "an entry in workspace.yaml"),
    ("folder", "code_locations/legacy"),
    ("helm", "helm/values/legacy.yaml"),
])
def test_a_name_taken_in_only_one_place_is_refused(spare, where, message):
    if where == "compose":
        path = spare / "docker/compose.yaml"
        path.write_text(path.read_text().replace(
            "\nvolumes:\n",
            '\n  legacy:\n    image: busybox\n    restart: "no"\n\nvolumes:\n'))
        assert "legacy" in compose(spare)["services"]
    elif where == "workspace":
        path = spare / "workspace.yaml"
        path.write_text(path.read_text() + "  - grpc_server:\n      host: legacy\n      port: 4000\n"
                        "      location_name: legacy\n")
    elif where == "folder":
        (spare / "code_locations/legacy").mkdir()
    else:
        (spare / "helm/values/legacy.yaml").write_text("location: {name: legacy}\n")
    before = snapshot(spare)
    result = scaffold(spare, "legacy")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "location 'legacy' already exists" in result.stderr and message in result.stderr
    assert snapshot(spare) == before


# ------------------------------------------------- failures leave nothing


def test_a_file_not_shaped_as_expected_fails_before_anything_is_written(spare):
    readme = spare / "README.md"
    readme.write_text(readme.read_text().replace("| location | owns | what drives it |", "| team | owns |"))
    before = snapshot(spare)
    result = scaffold(spare, "billing")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "README.md: no location table" in result.stderr and "Nothing was changed." in result.stderr
    assert snapshot(spare) == before


def test_a_failed_lock_leaves_nothing(spare):
    before = snapshot(spare)
    result = scaffold(spare, "billing", env={**clean_env(), "UV": "false"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "`uv lock` failed" in result.stderr
    assert snapshot(spare) == before


def test_a_failure_while_writing_puts_back_what_was_written(spare, monkeypatch):
    import new_location

    real_write = new_location.Transaction.write
    calls = []

    def flaky_write(self, rel, text):
        calls.append(rel)
        if len(calls) == 4:  # the package, Helm values, Makefile and .env.example are in; compose fails
            raise OSError("disk full (simulated)")
        real_write(self, rel, text)

    monkeypatch.setattr(new_location.Transaction, "write", flaky_write)
    before = snapshot(spare)
    with pytest.raises(OSError, match="simulated"):
        new_location.scaffold(spare, "billing", run_lock=False)
    assert calls[:3] == ["helm/values/billing.yaml", "Makefile", ".env.example"]
    assert snapshot(spare) == before
    assert not (spare / "code_locations/billing").exists()
