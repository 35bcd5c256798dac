"""make bench's reference profile is Dagster's defaults as deploy_docker runs
them, on our images: what our images add is taken out again."""

from pathlib import Path

import yaml

from tests.e2e.platform import LOCATIONS

ROOT = Path(__file__).resolve().parents[1]
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Docker's default
PROFILE = yaml.safe_load((ROOT / "bench" / "profiles" / "reference.yaml").read_text())
OVERRIDE = yaml.safe_load((ROOT / "bench" / "compose.reference.yaml").read_text())
TUNED = yaml.safe_load((ROOT / "dagster.yaml").read_text())


def test_the_reference_runs_dagsters_own_dagster_not_the_images_first_on_path():
    """Code servers and run containers get the images' PATH without /opt/platform/bin
    (libs/platform_services/bin/dagster)."""
    without_shim = f"/opt/venv/bin:{DOCKER_PATH}"
    assert f"PATH={without_shim}" in PROFILE["run_launcher"]["config"]["env_vars"]
    for location in LOCATIONS:
        assert OVERRIDE["services"][location]["environment"]["PATH"] == without_shim, location
    assert not any(v.startswith("PATH") for v in TUNED["run_launcher"]["config"]["env_vars"])


def test_reference_run_containers_have_no_healthcheck_as_deploy_docker_images_have_none():
    assert PROFILE["run_launcher"]["config"]["container_kwargs"]["healthcheck"] == {"test": ["NONE"]}
    # The code servers keep the images' HEALTHCHECK in both profiles.
    assert all("healthcheck" not in OVERRIDE["services"][location] for location in LOCATIONS)


def test_the_idle_footprint_rests_longer_than_the_tuned_pools_idle_period():
    """`idle` is a stack nobody asks anything: the bench rests long enough for the
    tuned pools to close their connections (platform_services.storage.IdleCloser).
    The reference's storage is Dagster's own, whose webserver pools never do."""
    from bench import run
    from platform_services.storage import IdleCloser

    idle = TUNED["storage"]["custom"]["config"]["pool"]["idle_seconds"]
    assert run.REST_SECONDS > idle + IdleCloser.MAX_TICK_SECONDS
    assert set(PROFILE["storage"]) == {"postgres"}
