"""make bench's reference profile is Dagster's defaults as deploy_docker runs
them, on our images: what our configuration adds is taken out again."""

from pathlib import Path

import yaml

from tests.e2e.platform import LOCATIONS

ROOT = Path(__file__).resolve().parents[1]
PROFILE = yaml.safe_load((ROOT / "bench" / "profiles" / "reference.yaml").read_text())
OVERRIDE = yaml.safe_load((ROOT / "bench" / "compose.reference.yaml").read_text())
TUNED = yaml.safe_load((ROOT / "dagster.yaml").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_reference_run_containers_have_no_healthcheck_as_deploy_docker_images_have_none():
    assert PROFILE["run_launcher"]["config"]["container_kwargs"]["healthcheck"] == {"test": ["NONE"]}
    # The code servers keep the images' HEALTHCHECK in both profiles.
    assert all("healthcheck" not in OVERRIDE["services"][location] for location in LOCATIONS)


def test_the_reference_connects_to_postgres_directly_and_ours_through_pgbouncer():
    assert COMPOSE["x-platform-env"]["DAGSTER_PG_HOST"] == "pgbouncer"
    for service in ("webserver", "daemon", *LOCATIONS):
        assert OVERRIDE["services"][service]["environment"]["DAGSTER_PG_HOST"] == "postgres", service
    assert set(OVERRIDE["services"]["postgres"]["networks"]) == {"default", "database"}


def test_the_reference_takes_dagsters_defaults():
    assert set(PROFILE["storage"]) == {"postgres"} and set(TUNED["storage"]) == {"postgres"}
    assert "dequeue_interval_seconds" not in (PROFILE["run_coordinator"].get("config") or {})
    for location in LOCATIONS:
        assert OVERRIDE["services"][location]["environment"]["PLATFORM_SENSOR_INTERVAL_SECONDS"] == "30"


def test_both_profiles_pass_no_credential_to_run_containers():
    for profile in (PROFILE, TUNED):
        names = {v.split("=")[0] for v in profile["run_launcher"]["config"]["env_vars"]}
        assert not names & {"DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
