"""The list of code locations agrees everywhere it is written down.

workspace.yaml (repo root), docker/compose.yaml (services that run
`dagster api grpc`), helm/values/*.yaml and the platform chart's default
codeLocations must all name the same locations.
"""

from __future__ import annotations

import yaml
from helm_harness import (
    LOCATION_VALUES_DIR,
    LOCATIONS,
    PLATFORM_CHART,
    REPO_ROOT,
    location_values,
)


def workspace_locations() -> set[str]:
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    return {entry["grpc_server"]["location_name"] for entry in workspace["load_from"]}


def _runs_code_server(service: dict) -> bool:
    command = service.get("command") or []
    if isinstance(command, str):
        command = command.split()
    if command[:3] == ["dagster", "api", "grpc"]:
        return True
    # The location images start the code server from their CMD; compose then
    # only carries the gRPC health check.
    test = (service.get("healthcheck") or {}).get("test") or []
    return not command and "platform_services.health" in " ".join(
        test if isinstance(test, list) else [test]
    )


def compose_locations() -> set[str]:
    compose = yaml.safe_load((REPO_ROOT / "docker" / "compose.yaml").read_text())
    return {
        name
        for name, service in compose["services"].items()
        if _runs_code_server(service)
    }


def helm_values_locations() -> set[str]:
    return {
        location_values(p.stem)["location"]["name"]
        for p in LOCATION_VALUES_DIR.glob("*.yaml")
    }


def platform_default_locations() -> set[str]:
    values = yaml.safe_load((PLATFORM_CHART / "values.yaml").read_text())
    return {entry["name"] for entry in values["codeLocations"]}


def test_locations_agree_everywhere() -> None:
    expected = set(LOCATIONS)
    assert workspace_locations() == expected
    assert compose_locations() == expected
    assert helm_values_locations() == expected
    assert platform_default_locations() == expected


def test_values_files_are_named_after_their_location() -> None:
    for path in LOCATION_VALUES_DIR.glob("*.yaml"):
        values = location_values(path.stem)
        assert values["location"]["name"] == path.stem
        assert values["location"]["module"] == f"{path.stem}.definitions"
        assert values["image"]["repository"] == f"dagster-platform/{path.stem}"


def test_helm_instance_matches_compose_instance_where_it_should() -> None:
    """Storage, coordinator, compute logs and telemetry agree with the compose dagster.yaml."""
    from helm_harness import config_map_file, render_chart

    compose_instance = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    helm_instance = config_map_file(
        render_chart({"s3": {"endpointUrl": "http://s3:8333"}}),
        "dagster-platform-instance",
        "dagster.yaml",
    )
    assert helm_instance["storage"] == compose_instance["storage"]
    for section in ("run_coordinator", "compute_logs"):
        assert helm_instance[section]["module"] == compose_instance[section]["module"]
        assert helm_instance[section]["class"] == compose_instance[section]["class"]
    assert (
        helm_instance["compute_logs"]["config"]["bucket"]
        == compose_instance["compute_logs"]["config"]["bucket"]
    )
    assert (
        helm_instance["telemetry"]
        == compose_instance["telemetry"]
        == {"enabled": False}
    )
    # Tick history is purged the same way under both.
    assert helm_instance["retention"] == compose_instance["retention"]
