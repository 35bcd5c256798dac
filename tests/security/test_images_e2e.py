"""Our built images and the running stack: no secret from .env baked into an
image, every image runs as uid 10001, no container of the project runs as root.

Read-only: uses `docker images`, `docker history` and `docker inspect` only.
DOCKER picks the client (CI: /usr/bin/docker).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from platformctl.check_config import read_env_file

from tests.security.tools import APP_UID, OUR_IMAGES, ROOT

pytestmark = pytest.mark.e2e

DOCKER = os.environ.get("DOCKER", "docker")
PROJECT = os.environ.get("PROJECT", "dagster-platform")
REGISTRY = os.environ.get("REGISTRY", "localhost")
ROOT_USERS = {"", "0", "root"}


def docker(*args: str) -> str:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=True, timeout=120).stdout


def our_images() -> list[str]:
    refs = []
    for name in OUR_IMAGES:
        out = docker("images", "--format", "{{.Repository}}:{{.Tag}}", f"{REGISTRY}/dagster-platform/{name}")
        refs += [r for r in out.split() if not r.endswith(":<none>")]
    return sorted(refs)


@pytest.fixture(scope="module")
def images() -> list[str]:
    refs = our_images()
    missing = [n for n in OUR_IMAGES if not any(f"/dagster-platform/{n}:" in r for r in refs)]
    assert not missing, f"images not built: {missing} (run `make build`)"
    return refs


@pytest.fixture(scope="module")
def secrets() -> dict[str, str]:
    env = read_env_file(ROOT / ".env")
    values = {k: v for k, v in env.items() if k in {"POSTGRES_PASSWORD", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"}}
    assert values and all(values.values()), ".env has no generated secrets (run `make up`)"
    return values


def test_no_secret_in_image_history_or_env(images, secrets):
    leaks = []
    for ref in images:
        history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", ref)
        env = "\n".join(json.loads(docker("inspect", "--format", "{{json .Config.Env}}", ref)) or [])
        leaks += [f"{ref}: {name} in {where}" for name, value in secrets.items()
                  for where, text in (("history", history), ("Env", env)) if value in text]
    assert leaks == []


def test_every_image_runs_as_the_app_user(images):
    users = {ref: docker("inspect", "--format", "{{.Config.User}}", ref).strip() for ref in images}
    assert {ref: u for ref, u in users.items() if u.split(":")[0] != APP_UID} == {}


def running_containers() -> list[str]:
    """The compose project's containers and the run containers its launcher started."""
    ids = set()
    for label in (f"com.docker.compose.project={PROJECT}", "dagster-platform/location"):
        ids |= set(docker("ps", "-q", "--filter", f"label={label}").split())
    return sorted(ids)


def test_no_running_container_is_root():
    ids = running_containers()
    assert ids, f"no running container of project {PROJECT} (run `make up`)"
    inspected = json.loads(docker("inspect", *ids))
    users = {c["Name"].lstrip("/"): c["Config"]["User"] for c in inspected}
    assert {name: u for name, u in users.items() if u.split(":")[0] in ROOT_USERS} == {}


def test_running_containers_have_no_new_privileges():
    inspected = json.loads(docker("inspect", *running_containers()))
    missing = [c["Name"].lstrip("/") for c in inspected
               if "no-new-privileges:true" not in (c["HostConfig"].get("SecurityOpt") or [])
               and "no-new-privileges" not in (c["HostConfig"].get("SecurityOpt") or [])]
    assert missing == []
