"""Compose hardening that `make check` (platformctl.check_config) does not
cover. check_config already refuses: published ports other than the webserver's
on 127.0.0.1, the Docker socket outside webserver/daemon, and long-running
services without a healthcheck (tests/test_config.py has its negative tests)."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from platformctl import check_config

from tests.security.tools import APP_UID, OUR_IMAGES, ROOT, compose, dockerfile_final_user

DOCKERFILE = ROOT / "docker" / "Dockerfile"
OUR_IMAGE = re.compile(r"/dagster-platform/(?P<name>[\w-]+):")
ROOT_USERS = {"", "0", "root", "0:0", "root:root"}
S3_DOCKERFILE = ROOT / "docker" / "s3" / "Dockerfile"


def image_target(image: str) -> str | None:
    """docker/Dockerfile's target for one of our images (or "s3", docker/s3/Dockerfile),
    None for anyone else's."""
    m = OUR_IMAGE.search(image)
    if not m or m.group("name") not in (*OUR_IMAGES, "s3"):
        return None
    if m.group("name") == "s3":
        return "s3"
    return "platform" if m.group("name") == "platform" else "code-location"


def hardening_problems(data: dict) -> list[str]:
    problems = []
    services = data.get("services") or {}
    one_shot = {s for s, spec in services.items() if spec.get("restart") == "no"}
    if one_shot - {"init"}:
        problems.append(f"only init may skip its healthcheck (restart: 'no'), not {sorted(one_shot - {'init'})}")
    socket = {s for s, spec in services.items() if any("docker.sock" in str(v) for v in spec.get("volumes") or [])}
    if socket != check_config.RUN_LAUNCHING_SERVICES:
        problems.append(f"the Docker socket must reach exactly webserver and daemon, not {sorted(socket)}")
    for svc, spec in services.items():
        if "no-new-privileges:true" not in (spec.get("security_opt") or []):
            problems.append(f"services.{svc}: security_opt must include no-new-privileges:true")
        for key in ("privileged", "cap_add", "pid", "ipc", "network_mode", "userns_mode"):
            if spec.get(key) and spec.get(key) not in (False, "private"):
                problems.append(f"services.{svc}.{key}: not allowed ({spec[key]!r})")
        user = str(spec.get("user", "")).strip()
        target = image_target(str(spec.get("image", "")))
        if user in ROOT_USERS - {""} or (not user and target is None):
            problems.append(f"services.{svc}: set a non-root `user:` (image {spec.get('image')!r} is not ours)")
    return problems


def test_compose_is_hardened():
    assert hardening_problems(compose()) == []


def test_our_images_run_as_the_app_user():
    # The images compose runs without `user:` rely on docker/Dockerfile's USER.
    targets = set(re.findall(r"--target (\S+)", (ROOT / "Makefile").read_text()))
    assert targets == {"platform", "code-location"}
    for target in sorted(targets):
        assert dockerfile_final_user(DOCKERFILE, target) == APP_UID, target


def test_the_object_store_image_runs_as_a_numeric_non_root_user():
    # uid 1000, as the upstream image's `seaweed` user, so its volumes stay readable.
    assert dockerfile_final_user(S3_DOCKERFILE) == "1000:1000"


@pytest.mark.parametrize("path", sorted((ROOT / "docker" / "airgap").glob("*.Dockerfile")), ids=lambda p: p.name)
def test_ci_stand_ins_run_as_a_numeric_non_root_user(path):
    user = dockerfile_final_user(path)
    assert user and re.fullmatch(r"\d+(:\d+)?", user) and user.split(":")[0] != "0"


def test_run_containers_get_no_socket_and_no_new_privileges():
    launcher = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_launcher"]["config"]
    kwargs = launcher.get("container_kwargs") or {}
    assert "no-new-privileges:true" in kwargs.get("security_opt", [])
    assert not any("docker.sock" in str(v) for v in (kwargs.get("volumes") or []) + (launcher.get("volumes") or []))
    assert not kwargs.get("privileged") and not kwargs.get("user")  # runs use the image's USER


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["services"]["s3"].update(restart="no"), "only init may skip its healthcheck"),
        (lambda d: d["services"]["daemon"].update(volumes=[]), "exactly webserver and daemon"),
        (lambda d: d["services"]["reports"].update(security_opt=[]), "services.reports: security_opt"),
        (lambda d: d["services"]["postgres"].update(user="root"), "services.postgres: set a non-root"),
        (lambda d: d["services"]["postgres"].pop("user"), "services.postgres: set a non-root"),
        (lambda d: d["services"]["s3"].update(image="minio/minio:latest"), "services.s3: set a non-root"),
        (lambda d: d["services"]["ingest"].update(privileged=True), "services.ingest.privileged"),
        (lambda d: d["services"]["webserver"].update(network_mode="host"), "services.webserver.network_mode"),
    ],
)
def test_hardening_rule_is_enforced(edit, message):
    data = copy.deepcopy(compose())
    edit(data)
    assert any(message in p for p in hardening_problems(data))


def test_check_config_refuses_a_service_without_healthcheck(tmp_path):
    data = compose()
    del data["services"]["s3"]["healthcheck"]
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(data))
    assert "services.s3: long-running service without a healthcheck" in " ".join(check_config.check_compose(path, {}))


def test_compose_file_parses_with_merge_keys():
    # The rules above read services after YAML merges (<<: *hardening).
    assert compose()["services"]["webserver"]["security_opt"] == ["no-new-privileges:true"]
