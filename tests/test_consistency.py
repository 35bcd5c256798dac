"""The list of code locations is the same everywhere it is written down."""

import re
from pathlib import Path

import yaml

from check_config import workspace_locations

ROOT = Path(__file__).resolve().parents[1]


def folder_locations() -> set[str]:
    return {p.parent.name for p in (ROOT / "code_locations").glob("*/pyproject.toml")}


def compose_locations() -> set[str]:
    services = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["services"]
    return {
        name for name, spec in services.items()
        if re.search(r"/dagster-platform/(?!platform:)", str(spec.get("image", "")))
        and "DAGSTER_CONTAINER_CONTEXT" in (spec.get("environment") or {})
    }


def makefile_locations() -> set[str]:
    match = re.search(r"^LOCATIONS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    return set(match.group(1).split())


def test_the_original_locations_are_there():
    # `make new-location` adds more (docs/adding-a-location.md); these three stay.
    assert folder_locations() >= {"ingest", "transform", "reports"}


def test_workspace_matches_folders():
    assert set(workspace_locations(ROOT / "workspace.yaml")) == folder_locations()


def test_compose_matches_folders():
    assert compose_locations() == folder_locations()


def test_makefile_matches_folders():
    assert makefile_locations() == folder_locations()


def test_workspace_hosts_are_compose_services():
    services = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["services"]
    for entry in yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]:
        server = entry["grpc_server"]
        assert server["host"] == server["location_name"] and server["host"] in services


def test_each_location_labels_its_runs_with_its_name():
    services = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["services"]
    for name in folder_locations():
        context = services[name]["environment"]["DAGSTER_CONTAINER_CONTEXT"]
        assert f'"dagster-platform/location": "{name}"' in context


def test_each_location_project_names_its_module():
    for name in folder_locations():
        text = (ROOT / "code_locations" / name / "pyproject.toml").read_text()
        assert f'module_name = "{name}.definitions"' in text
        assert (ROOT / "code_locations" / name / "src" / name / "definitions.py").exists()
        assert (ROOT / "code_locations" / name / "uv.lock").exists()


def test_readme_names_every_location():
    readme = (ROOT / "README.md").read_text()
    for name in folder_locations():
        assert f"`{name}`" in readme
