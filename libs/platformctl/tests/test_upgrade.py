"""One pin for Dagster (the root pyproject.toml): drift is named, and `make upgrade` moves every
pin and lock together, all or nothing. Offline: `uv` is a stub that records where it ran."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

from platformctl import locations, upgrade
from platformctl.upgrade import Release

CURRENT = upgrade.release(REPO)


def test_integrations_are_released_as_minor_plus_16():
    assert Release.of("1.13.27") == Release(core="1.13.27", integrations="0.29.27")
    assert Release.of("1.14.0") == Release(core="1.14.0", integrations="0.30.0")
    for bad in ("0.29.27", "1.13", "latest", "1.13.27rc1", ""):
        with pytest.raises(upgrade.UpgradeError, match="is not a Dagster release"):
            Release.of(bad)


def test_the_repository_runs_one_release():
    assert upgrade.pin_problems(REPO) == []
    pinned = [upgrade._rel(REPO, p) for p in upgrade.projects(REPO)]
    assert pinned[:2] == [".", "docker/platform"]
    assert {"libs/platform_common", "libs/platform_services", "libs/platformctl"} <= set(pinned)
    assert pinned[-len(locations.names(REPO)):] == [f"code_locations/{n}" for n in locations.names(REPO)]


@pytest.fixture
def copy(tmp_path):
    """The repository's projects, locks, charts and dg.toml, and a stub uv."""
    root = tmp_path / "repo"
    files = ["pyproject.toml", "uv.lock", "dg.toml", *upgrade.CHARTS]
    for project in upgrade.projects(REPO):
        rel = upgrade._rel(REPO, project)
        files += [f"{rel}/pyproject.toml", *([f"{rel}/uv.lock"] if (project / "uv.lock").exists() else [])]
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    calls = tmp_path / "uv-calls"
    stub = tmp_path / "bin" / "uv"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\n[ "$1" = lock ] || exit 0  # `uv --version` (make need-uv): nothing to record\n'
                    f'pwd >> "{calls}"\n'
                    '[ -n "$FAIL_IN" ] && case "$(pwd)" in *"$FAIL_IN") echo "no solution" >&2; exit 1;; esac\n'
                    'echo "# relocked" >> uv.lock\n')
    stub.chmod(0o755)
    return root, stub, calls


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_upgrade_moves_every_pin_and_chart_and_locks_every_project(copy, monkeypatch):
    root, stub, calls = copy
    monkeypatch.setenv("UV", str(stub))
    before = snapshot(root)
    changed = upgrade.upgrade(root, "1.14.2")
    new = Release.of("1.14.2")
    assert upgrade.release(root) == new
    assert [p for p in upgrade.pin_problems(root, new) if "uv.lock" not in p] == []
    for project in upgrade.projects(root):
        data = tomllib.loads((project / "pyproject.toml").read_text())
        pins = [r for r in upgrade.requirements(data) if upgrade.is_dagster(upgrade.REQUIREMENT.match(r).group(1))]
        assert all(r.endswith(("==1.14.2", "==0.30.2")) for r in pins), (project, pins)
    text = (root / "code_locations/transform/pyproject.toml").read_text()
    assert '"dagster-dbt==0.30.2",' in text and '"dagster-dg-cli==1.14.2",' in text
    assert '"dbt-core==1.11.16",' in text  # not a Dagster package: untouched
    assert 'appVersion: "1.14.2"' in (root / "helm/dagster-platform/Chart.yaml").read_text()
    assert 'dagster = "1.14.2"' in (root / "pyproject.toml").read_text()
    # Only version numbers changed, line for line (comments and layout stay).
    after = snapshot(root)
    for rel in before:
        if rel.endswith("pyproject.toml"):
            old, new_lines = before[rel].splitlines(), after[rel].splitlines()
            assert len(old) == len(new_lines)
            assert [(a, b) for a, b in zip(old, new_lines) if a != b and "1.13.27" not in a and "0.29.27" not in a] == []
    locked = calls.read_text().split()
    assert sorted(locked) == sorted(str(p) for p in upgrade.projects(root) if (p / "uv.lock").exists())
    assert {root / "code_locations/ingest/uv.lock", root / "pyproject.toml"} <= set(changed)


def test_no_lock_rewrites_the_pins_only(copy, monkeypatch):
    root, stub, calls = copy
    monkeypatch.setenv("UV", str(stub))
    locks = {p: p.read_text() for p in root.rglob("uv.lock")}
    upgrade.upgrade(root, "1.13.26", lock=False)
    assert upgrade.release(root) == Release.of("1.13.26")
    assert not calls.exists()
    assert all(p.read_text() == text for p, text in locks.items())
    # The locks now lag the pins, and the check says so, naming each one.
    problems = upgrade.pin_problems(root)
    assert problems and all("uv.lock" in p and "run `uv lock` there" in p for p in problems)
    assert any(p.startswith("code_locations/ingest/uv.lock: dagster 1.13.27 is locked") for p in problems)


def test_a_failed_lock_puts_every_file_back(copy, monkeypatch):
    root, stub, calls = copy
    monkeypatch.setenv("UV", str(stub))
    monkeypatch.setenv("FAIL_IN", "code_locations/reports")
    before = snapshot(root)
    with pytest.raises(upgrade.UpgradeError, match=r"`uv lock` failed in .*code_locations/reports:\nno solution"):
        upgrade.upgrade(root, "1.14.2")
    assert snapshot(root) == before


def test_a_pin_that_left_the_release_set_is_named_and_stops_the_upgrade(copy, monkeypatch):
    root, stub, calls = copy
    monkeypatch.setenv("UV", str(stub))
    pyproject = root / "code_locations/reports/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"dagster-aws==0.29.27"', '"dagster-aws==0.29.26"'))
    chart = root / "helm/dagster-code-location/Chart.yaml"
    chart.write_text(chart.read_text().replace('appVersion: "1.13.27"', 'appVersion: "1.13.20"'))
    unpinned = root / "libs/platform_common/pyproject.toml"
    unpinned.write_text(unpinned.read_text().replace('"dagster==1.13.27"', '"dagster>=1.13"'))
    problems = upgrade.pin_problems(root)
    assert f"code_locations/reports/pyproject.toml: 'dagster-aws==0.29.26' is not pinned to the release set " \
           f"(=={CURRENT.core} or =={CURRENT.integrations}; root pyproject.toml)" in problems
    assert "libs/platform_common/pyproject.toml: 'dagster>=1.13' is not pinned to the release set " \
           f"(=={CURRENT.core} or =={CURRENT.integrations}; root pyproject.toml)" in problems
    assert f'helm/dagster-code-location/Chart.yaml: appVersion "1.13.20" is not the release set\'s {CURRENT.core}' \
           in problems
    before = snapshot(root)
    with pytest.raises(upgrade.UpgradeError, match="the pins have left the release set; fix these first"):
        upgrade.upgrade(root, "1.14.2")
    assert snapshot(root) == before and not calls.exists()


def test_the_command_through_make(copy, tmp_path):
    """`make upgrade` without DAGSTER, and platformctl's own usage and errors."""
    root, stub, calls = copy
    env = {**os.environ, "PYTHONPATH": str(REPO / "libs/platformctl/src"), "PLATFORM_ROOT": str(root),
           "UV": str(stub)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "platformctl", "upgrade", *args], env=env,
                              capture_output=True, text=True)

    assert run().returncode == 2
    bad = run("2.0")
    assert bad.returncode == 1 and "'2.0' is not a Dagster release" in bad.stderr and "Nothing was changed" in bad.stderr
    done = run("1.13.26")
    assert done.returncode == 0, done.stderr
    assert "wrote pyproject.toml" in done.stdout and "Dagster 1.13.26 (integrations 0.29.26)" in done.stdout
    check = run("--check")  # the stub locked nothing for real: the locks lag, and are named
    assert check.returncode == 1 and "code_locations/ingest/uv.lock: dagster 1.13.27 is locked" in check.stderr
    assert all("uv.lock" in line for line in check.stderr.splitlines())
    make = subprocess.run(["make", "-s", "upgrade"], cwd=REPO, env={**env, "PLATFORM_ROOT": str(root)},
                          capture_output=True, text=True)
    assert make.returncode == 2 and "DAGSTER=<version> is required" in make.stderr
