"""dg.toml is the one list of code locations. Everything else that names them is generated from
it (platformctl.generate) or reads it when it runs (the Makefile, the CI matrix, .env); these tests
fail when any of them drifts: a folder dg.toml does not list, a stale generated file, a hand edit.
"""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from platformctl import check_config, generate, locations
from platformctl.changed_locations import known_locations

ROOT = Path(__file__).resolve().parents[1]
NAMES = locations.names(ROOT)


def folder_locations() -> set[str]:
    return {p.parent.name for p in (ROOT / "code_locations").glob("*/pyproject.toml")}


def test_dg_toml_lists_every_location_folder_once():
    assert set(NAMES) == folder_locations() and len(NAMES) == len(set(NAMES))
    # `make new-location` adds more (docs/adding-a-location.md); these stay.
    assert NAMES[:4] == ["ingest", "transform", "reports", "housekeeping"]


@pytest.mark.parametrize("name", NAMES)
def test_each_location_is_a_dg_project(name):
    project = ROOT / "code_locations" / name
    data = tomllib.loads((project / "pyproject.toml").read_text())
    assert data["tool"]["dg"] == {"directory_type": "project", "project": {"root_module": name}}
    assert data["tool"]["dagster"]["module_name"] == f"{name}.definitions"  # dg's default target module
    assert (project / "src" / name / "definitions.py").is_file() and (project / "src" / name / "defs").is_dir()
    assert any(r.startswith("dagster-dg-cli==") for r in data["dependency-groups"]["dev"])
    lock = tomllib.loads((project / "uv.lock").read_text())
    assert "dagster-dg-cli" in {p["name"] for p in lock["package"]}


def test_everything_generated_from_dg_toml_is_up_to_date():
    wanted, problems = generate.plan(ROOT)
    assert problems == []
    assert generate.stale(ROOT, wanted) == [], "run `make generate` (python3 -m platformctl generate)"


def test_workspace_yaml_serves_each_location_from_its_compose_service():
    entries = [e["grpc_server"] for e in yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]]
    assert entries == [{"host": n, "port": 4000, "location_name": n} for n in NAMES]


def test_compose_runs_each_location_from_its_own_image_with_its_label():
    services = check_config.load_compose(ROOT)["services"]
    code_servers = {name for name, spec in services.items()
                    if "platform_services.health" in " ".join((spec.get("healthcheck") or {}).get("test") or [])}
    assert code_servers == set(NAMES)
    for name in NAMES:
        spec = services[name]
        assert spec["image"] == (f"${{REGISTRY:-localhost}}/dagster-platform/{name}:"
                                 f"${{{name.upper()}_TAG:?run through make, which sets the image tags}}")
        assert f'"dagster-platform/location": "{name}"' in spec["environment"]["DAGSTER_CONTAINER_CONTEXT"]
        assert spec["volumes"] == [f"secrets-{name}:/run/secrets/platform:ro"]
    compose = (ROOT / "docker/compose.yaml").read_text()
    assert not [n for n in NAMES if re.search(rf"^  {n}:", compose, re.M)], "location services are generated"


def test_the_makefile_and_the_ci_matrix_read_dg_toml():
    makefile = (ROOT / "Makefile").read_text()
    assert not re.search(r"^LOCATIONS\s*:?=\s*\w", makefile, re.M), "no hand-written list of locations"
    dry = subprocess.run(["make", "--no-print-directory", "-n", "check-defs"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert f"check-defs {' '.join(NAMES)}\n" in dry
    assert known_locations(ROOT) == NAMES


def test_the_benchmark_reference_and_codeowners_name_each_location():
    bench = yaml.safe_load((ROOT / "bench/compose.reference.yaml").read_text())["services"]
    assert [s for s in bench if s not in {"postgres", "webserver", "daemon"}] == NAMES
    owners = {line.split()[0]: line.split()[1:] for line in (ROOT / ".github/CODEOWNERS").read_text().splitlines()
              if line.startswith("/code_locations/")}
    for loc in locations.discover(ROOT):
        assert owners.get(f"/code_locations/{loc.name}/", []) == list(loc.owners)


def test_readme_has_a_row_per_location_and_env_example_none():
    table = (ROOT / "README.md").read_text().split("| location | owns | what drives it |", 1)[1].split("\n\n")[0]
    assert re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M) == NAMES
    example = (ROOT / ".env.example").read_text()
    assert not [n for n in NAMES if re.search(rf"^{n.upper()}_", example, re.M)], "location secrets are generated"


FILES = ["dg.toml", "workspace.yaml", "docker/compose.yaml", "helm/dagster-platform/values.yaml",
         "bench/compose.reference.yaml", ".github/CODEOWNERS", "README.md"]


@pytest.fixture
def copy(tmp_path):
    for rel in FILES + [f"code_locations/{n}/pyproject.toml" for n in NAMES] + \
            [f"helm/values/{n}.yaml" for n in NAMES]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    wanted, _ = generate.plan(tmp_path)
    assert generate.stale(tmp_path, wanted) == []
    return tmp_path


@pytest.mark.parametrize(("edit", "stale"), [
    (lambda r: (r / "workspace.yaml").write_text((r / "workspace.yaml").read_text().replace("port: 4000", "port: 4001", 1)),
     ["workspace.yaml"]),
    (lambda r: (r / "README.md").write_text(re.sub(r"^\| `reports` \|.*\n", "", (r / "README.md").read_text(),
                                                   flags=re.M)), ["README.md"]),
    (lambda r: (r / "bench/compose.reference.yaml").write_text(
        (r / "bench/compose.reference.yaml").read_text() + "  legacy: *reference-code-server\n"),
     ["bench/compose.reference.yaml"]),
    (lambda r: (r / "helm/values/reports.yaml").unlink(), ["helm/values/reports.yaml"]),
])
def test_a_hand_edit_of_a_generated_list_fails(copy, edit, stale):
    edit(copy)
    wanted, _ = generate.plan(copy)
    assert generate.stale(copy, wanted) == stale


def test_a_folder_dg_toml_does_not_list_fails(copy):
    (copy / "code_locations/stray").mkdir()
    shutil.copy(copy / "code_locations/reports/pyproject.toml", copy / "code_locations/stray/pyproject.toml")
    with pytest.raises(locations.DeclarationError, match="code_locations/stray: a location folder that dg.toml "
                                                         "does not list"):
        generate.plan(copy)
