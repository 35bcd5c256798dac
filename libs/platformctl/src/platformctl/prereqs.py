"""The Makefile's prerequisites: find the tools it needs, or say in one line how to get them.

    platformctl prereqs docker                 print a Docker client that can build with BuildKit
    platformctl prereqs need-docker DOCKER [--build] [--compose CMD]
                                               an engine answers DOCKER; with --build DOCKER
                                               builds with BuildKit; CMD (compose) runs
    platformctl prereqs need-uv UV --version V --home DIR
                                               UV runs; when UV is DIR/bin/uv, install uv V there first

A client can build with BuildKit when `docker buildx version` works, or when it
is older than Docker 23, whose CLI still carries its own BuildKit builder
(Debian's docker.io 20.10 does; the 28.x client on CI machines has no buildx).
Candidates are every `docker` on PATH, in order, then /usr/bin/docker and
/usr/local/bin/docker. uv is installed with pip's --target into DIR, which
neither needs root nor touches a system Python that refuses pip (PEP 668).
Standard library only: it runs before any project environment exists.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

WELL_KNOWN_CLIENTS = ("/usr/bin/docker", "/usr/local/bin/docker")
INSTALL_DOCKER = "install Docker Engine (https://docs.docker.com/engine/install/; Debian: apt-get install docker.io)"
INSTALL_BUILDX = ("install the buildx plugin (docker-buildx-plugin from Docker's repository, Debian's docker-buildx, "
                  "or https://github.com/docker/buildx#installing), or point DOCKER= at a client that has it")
INSTALL_COMPOSE = ("install Docker Compose (the docker-compose-plugin, "
                   "or Debian's docker-compose: apt-get install docker-compose)")


class Missing(Exception):
    """A prerequisite this script cannot provide; the message is the one line to show."""


def run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def candidates(path: str | None = None) -> list[str]:
    """Every `docker` executable on PATH, in order, then the well-known places; each file once."""
    found, seen = [], set()
    dirs = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    for place in [*(os.path.join(d, "docker") for d in dirs if d), *WELL_KNOWN_CLIENTS]:
        if os.path.isfile(place) and os.access(place, os.X_OK):
            real = os.path.realpath(place)
            if real not in seen:
                seen.add(real)
                found.append(place)
    return found


def client_version(docker: str) -> tuple[int, ...] | None:
    """(major, minor) of a Docker CLI from `docker --version`, None when it says no version."""
    result = run([docker, "--version"])
    match = re.match(r"Docker version (\d+)\.(\d+)", result.stdout if result and result.returncode == 0 else "")
    return (int(match[1]), int(match[2])) if match else None


def buildkit_problem(docker: str) -> str | None:
    """None when `docker` can build with BuildKit, else why not (a few words)."""
    buildx = run([docker, "buildx", "version"])
    if buildx is not None and buildx.returncode == 0:
        return None
    version = client_version(docker)
    if version is None:
        return f"{docker} is not a Docker CLI (`{docker} --version` names no Docker version)"
    if version < (23, 0):
        return None  # the CLI's own BuildKit builder, used with DOCKER_BUILDKIT=1
    return f"{docker} ({'.'.join(map(str, version))}) has no buildx plugin"


def find_docker(clients: Iterable[str]) -> str:
    """The first client that builds with BuildKit, or Missing naming each one tried."""
    problems = []
    for docker in clients:
        problem = buildkit_problem(docker)
        if problem is None:
            return docker
        problems.append(problem)
    if not problems:
        raise Missing(f"no docker client found: {INSTALL_DOCKER}")
    raise Missing(f"no Docker client here builds with BuildKit ({'; '.join(problems)}): {INSTALL_BUILDX}")


def need_docker(docker: str, build: bool = False, compose: str | None = None) -> None:
    if shutil.which(docker) is None:
        raise Missing(f"DOCKER={docker} is not an executable: {INSTALL_DOCKER}")
    problem = buildkit_problem(docker) if build else None
    if problem:
        raise Missing(f"{problem}, so images cannot be built: {INSTALL_BUILDX}")
    info = run([docker, "info", "--format", "{{.ServerVersion}}"], timeout=60)
    if info is None or info.returncode != 0 or not info.stdout.strip():
        said = " ".join(((info.stderr or info.stdout) if info else "no answer within 60 s").split())[:160]
        raise Missing(f"no Docker engine answers `{docker} info` ({said}): start it (systemctl start docker, "
                      f"or dockerd), or give this user access to its socket; to install one: {INSTALL_DOCKER}")
    if compose:
        version = run([*shlex.split(compose), "version"])
        if version is None or version.returncode != 0:
            raise Missing(f"`{compose} version` fails: {INSTALL_COMPOSE}")


def need_uv(uv: str, version: str, home: Path, python: str = sys.executable) -> None:
    """`uv` runs; our own install location (home/bin/uv) is filled first when empty."""
    managed = home / "bin" / "uv"
    if Path(uv) == managed and not managed.exists():
        print(f"uv is not on PATH: installing uv {version} into {home}", file=sys.stderr)
        home.parent.mkdir(parents=True, exist_ok=True)
        staging = tempfile.mkdtemp(dir=home.parent, prefix=".uv-")
        try:
            pip = run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                       "--no-warn-script-location", "--target", staging, f"uv=={version}"], timeout=600)
            if pip is None or pip.returncode != 0:
                said = " ".join(((pip.stderr or pip.stdout) if pip else "pip did not finish").split())[-200:]
                raise Missing(f"uv {version} could not be installed with `{python} -m pip` ({said}): install uv "
                              f"(https://docs.astral.sh/uv/getting-started/installation/) and put it on PATH, "
                              f"or set UV=/path/to/uv")
            # One rename: an interrupted install leaves no half-filled home behind.
            shutil.rmtree(home, ignore_errors=True)
            os.replace(staging, home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    result = run([uv, "--version"])
    if result is None or result.returncode != 0:
        raise Missing(f"UV={uv} does not run: install uv {version} "
                      f"(https://docs.astral.sh/uv/getting-started/installation/) or unset UV")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl prereqs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("docker", help="print a Docker client that builds with BuildKit")
    docker = sub.add_parser("need-docker", help="an engine answers the client (and it builds with BuildKit)")
    docker.add_argument("docker")
    docker.add_argument("--build", action="store_true", help="the client must build with BuildKit")
    docker.add_argument("--compose", help="the compose command, which must run too")
    uv = sub.add_parser("need-uv", help="uv runs (installed first into --home when UV points there)")
    uv.add_argument("uv")
    uv.add_argument("--version", required=True)
    uv.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("PIP_ROOT_USER_ACTION", "ignore")  # pip as root installs into our own folder only
    try:
        if args.command == "docker":
            print(find_docker(candidates()))
        elif args.command == "need-docker":
            need_docker(args.docker, args.build, args.compose)
        else:
            need_uv(args.uv, args.version, args.home)
    except Missing as missing:
        print(f"make: {missing}", file=sys.stderr)
        return 1
    return 0
