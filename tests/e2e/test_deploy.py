"""Teams deploy their location alone: no restart of the webserver or daemon,
no interruption of other locations' runs, bad code never replaces good code.

Each deploy runs `make deploy` from a copy of the repository with the change
applied, against the same running stack, so the checkout under test is never
modified."""

import time
import uuid

import pytest

from tests.e2e.platform import (
    copy_repo,
    inspect,
    jobs_of,
    launch,
    make,
    poll,
    probe_job_code,
    run_info,
    runs,
    service_container,
    wait_for_run,
    wait_for_status,
)

MARKER = f"probe_{uuid.uuid4().hex[:8]}"

PROBE = probe_job_code(MARKER, "tests/e2e/test_deploy.py", sensor=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the checkout whose deploy state follows the deploys of this module."""
    return copy_repo(tmp_path_factory.mktemp("deploy") / "repo")


def test_deploy_of_transform_leaves_ingest_and_its_run_alone(repo):
    ingest_container = service_container("ingest")
    platform = {s: service_container(s) for s in ("webserver", "daemon")}
    old_image = inspect(service_container("transform"))["Config"]["Image"]
    # A transform run (a dbt build) that starts on the old image, before the deploy:
    # the one transform's asset sensor starts once ingest has loaded the raw tables
    # it reads (on a fresh stack this module may run before any other ingest run).
    ingest = wait_for_status(launch("ingest", "ingest_job", tags={"dagster/partition": "2024-01-05"}),
                             {"SUCCESS"}, timeout=600)
    transform_run = poll(lambda: runs("transform_job", None, ingest["endTime"] - 1), timeout=300,
                         what="transform's sensor to start a transform_job run")[0]["runId"]
    long_run = launch("housekeeping", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 45}}}})
    wait_for_status(long_run, {"STARTED"})
    wait_for_status(transform_run, {"STARTED", "SUCCESS"}, timeout=600)

    definitions = repo / "code_locations/transform/src/transform/definitions.py"
    definitions.write_text(definitions.read_text() + PROBE)
    started = time.monotonic()
    result = make(repo, "deploy", "LOCATION=transform")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"deploy of a code-only change took {elapsed:.1f}s")

    assert MARKER in jobs_of("transform")
    assert run_info(long_run)["status"] in {"STARTED", "SUCCESS"}
    assert wait_for_status(long_run, {"SUCCESS"}, timeout=120)["status"] == "SUCCESS"
    assert service_container("ingest") == ingest_container
    assert {s: service_container(s) for s in platform} == platform
    # Runs in flight finish on the image they started with; new runs take the new one.
    new_image = inspect(service_container("transform"))["Config"]["Image"]
    assert new_image != old_image
    finished = wait_for_status(transform_run, {"SUCCESS"}, timeout=600)
    assert finished["tags"]["dagster/image"] == old_image
    probe_run = wait_for_status(launch("transform", MARKER), {"SUCCESS"}, timeout=600)
    assert probe_run["tags"]["dagster/image"] == new_image
    # The daemon, never restarted, runs the new code too: the deploy's new sensor
    # launches its run (the daemon follows each code server's server id).
    by_sensor = wait_for_run(MARKER, created_after=0, tags={"dagster/sensor_name": f"{MARKER}_sensor"},
                             timeout=300)
    assert by_sensor["tags"]["dagster/image"] == new_image


def test_deploy_that_fails_to_import_keeps_the_previous_version_serving(repo):
    definitions = repo / "code_locations/transform/src/transform/definitions.py"
    good = definitions.read_text()
    transform_container = service_container("transform")
    definitions.write_text(good + f'\nraise RuntimeError("broken on purpose {MARKER}")\n')
    try:
        result = make(repo, "deploy", "LOCATION=transform")
    finally:
        definitions.write_text(good)
    assert result.returncode != 0
    assert f"broken on purpose {MARKER}" in result.stdout + result.stderr
    assert "refused" in result.stderr
    assert service_container("transform") == transform_container
    assert MARKER in jobs_of("transform")
    probe_run = launch("transform", MARKER)
    assert wait_for_status(probe_run, {"SUCCESS"})["status"] == "SUCCESS"


def test_rollback_restores_the_previous_definitions(repo):
    assert MARKER in jobs_of("transform")
    result = make(repo, "rollback", "LOCATION=transform")
    assert result.returncode == 0, result.stdout + result.stderr
    poll(lambda: MARKER not in jobs_of("transform"), timeout=60, what="the probe job to disappear")
    assert "transform_job" in jobs_of("transform")
