"""The generated dagster.yaml, workspace.yaml and container contexts pass Dagster's own validation.

Uses the installed Dagster release set (pyproject.toml dev group), i.e. the
config schemas of the exact classes the platform image runs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import process_workspace_config
from dagster._serdes.config_class import class_from_code_pointer
from dagster_k8s.container_context import K8sContainerContext
from helm_harness import (
    REPO_ROOT,
    LOCATIONS,
    PLATFORM_VALUE_SETS,
    build_run_job,
    code_server_env,
    config_map_file,
    find,
    location_values,
    render_chart,
)

# What the platform pods get from the env ConfigMap and their credentials Secret.
SECRET_ENV = {
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-secret",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}


def _env_of(objects: list[dict]) -> dict[str, str]:
    env = dict(find(objects, "ConfigMap", "dagster-platform-env")["data"])
    env.update(SECRET_ENV)
    return env


@pytest.fixture(params=sorted(PLATFORM_VALUE_SETS))
def instance(request, monkeypatch, tmp_path) -> dict[str, Any]:
    objects = render_chart(PLATFORM_VALUE_SETS[request.param])
    for key, value in _env_of(objects).items():
        monkeypatch.setenv(key, value)
    text = find(objects, "ConfigMap", "dagster-platform-instance")["data"][
        "dagster.yaml"
    ]
    (tmp_path / "dagster.yaml").write_text(text)
    return yaml.safe_load(text)


def test_instance_yaml_passes_dagster_instance_schema(instance, tmp_path) -> None:
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    assert config["telemetry"] == {"enabled": False}
    assert set(config["storage"]) == {"postgres"}


@pytest.mark.parametrize("section", ["run_coordinator", "run_launcher", "compute_logs"])
def test_configurable_classes_accept_their_config(instance, section) -> None:
    """Each module/class imports and accepts its config block, as DagsterInstance would."""
    data = instance[section]
    klass = class_from_code_pointer(data["module"], data["class"])
    result = process_config(
        resolve_to_config_type(klass.config_type()), data.get("config", {})
    )
    assert result.success, result.errors


def test_storage_is_dagsters_own_postgres_block_of_env_references(instance, tmp_path) -> None:
    """`storage: postgres`, as in compose: Dagster's own DagsterPostgresStorage, once for
    runs, events and schedules; pooling is PgBouncer's (DAGSTER_PG_HOST), not a setting here.
    Only init creates tables (tests/test_instance_config.py)."""
    from dagster._core.instance.ref import InstanceRef

    assert instance["storage"] == {"postgres": {"should_autocreate_tables": False, "postgres_db": {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }}}
    ref = InstanceRef.from_dir(str(tmp_path))
    assert (ref.storage_data.module_name, ref.storage_data.class_name) == ("dagster_postgres", "DagsterPostgresStorage")
    assert ref.storage_data.config_dict["postgres_db"]["hostname"] == {"env": "DAGSTER_PG_HOST"}
    assert ref.storage_data.config_dict["should_autocreate_tables"] is False


def test_instance_uses_the_agreed_classes(instance) -> None:
    assert (instance["run_launcher"]["module"], instance["run_launcher"]["class"]) == (
        "dagster_k8s",
        "K8sRunLauncher",
    )
    assert (instance["run_coordinator"]["module"], instance["run_coordinator"]["class"]) == (
        "platform_services.run_queue",
        "HalfSecondQueuedRunCoordinator",
    )  # docs/adr/0008
    assert instance["run_coordinator"]["config"]["dequeue_interval_seconds"] == 0.5
    assert (instance["compute_logs"]["module"], instance["compute_logs"]["class"]) == (
        "platform_services.compute_logs",
        "S3ComputeLogManager",
    )
    assert instance["compute_logs"]["config"]["bucket"] == {
        "env": "DAGSTER_LOGS_BUCKET"
    }


def test_default_run_limits_are_per_location_on_the_tag_dagster_sets() -> None:
    """Dagster tags every run with its code location when it creates it: the default
    limits key on that tag, so they hold for runs launched from anywhere."""
    from dagster._core.storage.tags import CODE_LOCATION_TAG

    limits = config_map_file(render_chart(), "dagster-platform-instance", "dagster.yaml")["run_coordinator"][
        "config"]["tag_concurrency_limits"]
    assert {limit["key"] for limit in limits} == {CODE_LOCATION_TAG}
    assert {"key": CODE_LOCATION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 4} in limits
    assert {"key": CODE_LOCATION_TAG, "value": "transform", "limit": 1} in limits


def test_compute_log_endpoint_follows_values() -> None:
    default = config_map_file(
        render_chart(), "dagster-platform-instance", "dagster.yaml"
    )
    assert "endpoint_url" not in default["compute_logs"]["config"]
    custom = config_map_file(
        render_chart(
            {"s3": {"endpointUrl": "http://s3.local:9000", "logsPrefix": "logs"}}
        ),
        "dagster-platform-instance",
        "dagster.yaml",
    )
    assert custom["compute_logs"]["config"]["endpoint_url"] == {
        "env": "S3_ENDPOINT_URL"
    }
    assert custom["compute_logs"]["config"]["prefix"] == "logs"


def test_env_configmap_carries_the_shared_contract() -> None:
    env = find(render_chart(), "ConfigMap", "dagster-platform-env")["data"]
    assert {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_DB",
        "WAREHOUSE_DB",
        "DAGSTER_LOGS_BUCKET",
        "LANDING_BUCKET",
        "AWS_REGION",
        "DAGSTER_PLATFORM_ENV",
    } <= set(env)
    # A location's own bucket comes from its release: run pods of every location read this map.
    assert "DATA_BUCKET" not in env
    assert env["LANDING_BUCKET"] == "dagster-landing"
    assert env["DAGSTER_PLATFORM_ENV"] == "k8s"
    assert env["WAREHOUSE_DB"] == "warehouse"
    compose_env = yaml.safe_load((REPO_ROOT / "docker/compose.yaml").read_text())["x-platform-env"]
    assert env["MALLOC_ARENA_MAX"] == compose_env["MALLOC_ARENA_MAX"] == "1"
    assert env["DAGSTER_EVENT_BATCH_SIZE"] == compose_env["DAGSTER_EVENT_BATCH_SIZE"] == "1000"


def test_workspace_yaml_passes_dagster_schema_and_names_the_locations() -> None:
    workspace = config_map_file(
        render_chart(), "dagster-platform-workspace", "workspace.yaml"
    )
    result = process_workspace_config(workspace)
    assert result.success, result.errors
    servers = [entry["grpc_server"] for entry in workspace["load_from"]]
    assert [s["location_name"] for s in servers] == list(LOCATIONS)
    assert all(s["port"] == 4000 for s in servers)


def test_workspace_follows_code_locations_value() -> None:
    locations = [{"name": "only", "host": "dagster-code-only", "port": 4001}]
    workspace = config_map_file(
        render_chart({"codeLocations": locations}),
        "dagster-platform-workspace",
        "workspace.yaml",
    )
    assert workspace == {
        "load_from": [
            {
                "grpc_server": {
                    "host": "dagster-code-only",
                    "port": 4001,
                    "location_name": "only",
                }
            }
        ]
    }
    assert process_workspace_config(workspace).success


# --- Code locations: DAGSTER_CONTAINER_CONTEXT and DAGSTER_CURRENT_IMAGE ---


@pytest.mark.parametrize("location", LOCATIONS)
def test_container_context_is_valid_for_dagster_k8s(location) -> None:
    env = code_server_env(location)
    context = K8sContainerContext.create_from_config(
        json.loads(env["DAGSTER_CONTAINER_CONTEXT"])
    )
    resources = context.run_k8s_config.container_config["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"]


@pytest.mark.parametrize("location", LOCATIONS)
def test_current_image_is_the_full_image_reference(location) -> None:
    env = code_server_env(location)
    assert (
        env["DAGSTER_CURRENT_IMAGE"]
        == f"ghcr.io/example/dagster-platform/{location}:0.1.0"
    )
    digest = "sha256:" + "a" * 64
    env = code_server_env(
        location, image={"repository": f"dagster-platform/{location}", "digest": digest}
    )
    assert (
        env["DAGSTER_CURRENT_IMAGE"]
        == f"ghcr.io/example/dagster-platform/{location}@{digest}"
    )


def test_container_context_carries_env_and_secrets() -> None:
    env = code_server_env(
        "ingest",
        env={"WAREHOUSE_DB": "wh"},
        envFrom={"configMaps": ["ingest-settings"], "secrets": ["ingest-api"]},
        runServiceAccountName="ingest-runs",
    )
    context = K8sContainerContext.create_from_config(
        json.loads(env["DAGSTER_CONTAINER_CONTEXT"])
    )
    container = context.run_k8s_config.container_config
    assert {"config_map_ref": {"name": "ingest-settings"}} in container["env_from"]
    assert {"secret_ref": {"name": "ingest-api"}} in container["env_from"]
    assert {"name": "WAREHOUSE_DB", "value": "wh"} in container["env"]
    assert {"secret_ref": {"name": "dagster-code-ingest-credentials"}} in container["env_from"]
    assert (
        context.run_k8s_config.pod_spec_config["service_account_name"] == "ingest-runs"
    )
    assert env["WAREHOUSE_DB"] == "wh"


@pytest.mark.parametrize("location", LOCATIONS)
def test_run_pod_gets_location_resources_and_platform_env(location, tmp_path) -> None:
    job = build_run_job(location, tmp_path)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == location_values(location)["runResources"]
    assert container["image"] == f"ghcr.io/example/dagster-platform/{location}:0.1.0"
    # The platform's plain settings, then the location's own credentials and bucket.
    assert container["envFrom"] == [
        {"configMapRef": {"name": "dagster-platform-env"}},
        {"secretRef": {"name": f"dagster-code-{location}-credentials"}},
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DATA_BUCKET"] == f"dagster-data-{location}"
    assert "DAGSTER_HOME" in env and "DAGSTER_PG_PASSWORD" not in env
    assert job["spec"]["ttlSecondsAfterFinished"] == 86400
    assert (
        job["spec"]["template"]["spec"]["serviceAccountName"] == "dagster-platform-run"
    )
