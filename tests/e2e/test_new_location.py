"""`make new-location` end to end: a scaffolded location loads in `make up` with no
hand edits and its job runs in its own container from its own image.

Runs from a copy of the repository (like test_deploy.py), against the same
compose project and .env: `make up` in the copy generates the new service from
dg.toml, rebuilds the platform image with the new workspace.yaml, builds the new
location's image, recreates the webserver and daemon and adds the service. Afterwards `make up` in the original checkout
(which passes --remove-orphans) always puts the stack back as it was.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.e2e.platform import (
    DOCKER,
    LOCATIONS,
    copy_repo,
    docker,
    gql,
    inspect,
    launch,
    make,
    poll,
    service_container,
    wait_for_status,
)

ROOT = Path(__file__).resolve().parents[2]
NAME = "scaffold_probe"
ORIGINAL = set(LOCATIONS)
REGISTRY = os.environ.get("REGISTRY", "localhost")

WORKSPACE = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def loaded_locations() -> dict[str, dict]:
    return {e["name"]: e for e in gql(WORKSPACE)["workspaceOrError"]["locationEntries"]}


def output(result: subprocess.CompletedProcess) -> str:
    return (result.stdout[-6000:] + "\n" + result.stderr[-4000:]).strip()


def restore_and_check() -> None:
    """The original checkout's `make up`: webserver/daemon back on the original
    workspace, the probe's service removed as an orphan."""
    result = make(ROOT, "up")
    # The probe's run containers and image are this test's: leave no trace of them.
    ids = docker("ps", "-aq", "--filter", f"label=dagster-platform/location={NAME}", check=False).split()
    if ids:
        docker("rm", "-f", *ids, check=False)
    assert result.returncode == 0, f"restoring the stack failed:\n{output(result)}"
    entries = loaded_locations()
    assert set(entries) == ORIGINAL, sorted(entries)
    for entry in entries.values():
        assert entry["loadStatus"] == "LOADED", entry
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
    assert service_container(NAME) == ""
    assert docker("ps", "-aq", "--filter", f"label=com.docker.compose.service={NAME}") == ""


def test_scaffolded_location_loads_and_runs_in_its_own_container(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    try:
        scaffolded = make(repo, "new-location", f"NAME={NAME}")
        assert scaffolded.returncode == 0, output(scaffolded)

        up = make(repo, "up")
        assert up.returncode == 0, output(up)

        entry = loaded_locations()[NAME]
        assert entry["loadStatus"] == "LOADED", entry
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        assert set(loaded_locations()) == ORIGINAL | {NAME}

        tag = json.loads((repo / ".deploy/state.json").read_text())[NAME]["current"]
        image = f"{REGISTRY}/dagster-platform/{NAME}:{tag}"
        server = service_container(NAME)
        assert server, f"no running {NAME} service container"
        assert inspect(server)["Config"]["Image"] == image

        run = wait_for_status(launch(NAME, f"{NAME}_hello_job"), {"SUCCESS"})
        container_id = run["tags"]["docker/container_id"]
        assert container_id not in {service_container(s) for s in (NAME, "webserver", "daemon")}
        info = poll(lambda: (i := inspect(container_id))["State"]["Status"] == "exited" and i,
                    timeout=60, what=f"{NAME}'s run container to exit")
        assert re.fullmatch(rf"{re.escape(REGISTRY)}/dagster-platform/{NAME}:[0-9a-f]{{12}}", info["Config"]["Image"])
        assert info["Config"]["Image"] == image == run["tags"]["dagster/image"]
        assert info["Config"]["Labels"]["dagster/run_id"] == run["runId"]
        assert info["Config"]["Labels"]["dagster-platform/location"] == NAME
        assert info["State"]["ExitCode"] == 0
        print(f"{NAME} loaded from {image}; run {run['runId']} succeeded in container {container_id[:12]} "
              f"(docker: {DOCKER})")
    finally:
        restore_and_check()
