"""The running compose stack, as the Makefile describes it to platformctl.

The Makefile passes DOCKER, PROJECT, DC_RAW (the compose command) and
PLATFORM_IMAGE in the environment; image tags (<TARGET>_TAG) come with them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from platformctl import credentials, locations, volumes
from platformctl.envfile import EnvFile

NETWORK = "dagster_platform"
SECRETS_MOUNT = "/run/secrets/platform"


@dataclass
class Stack:
    root: Path
    docker: str
    project: str
    compose: list[str]
    platform_image: str
    webserver_url: str

    @classmethod
    def from_env(cls, root: Path) -> Stack:
        missing = [v for v in ("DC_RAW", "PLATFORM_IMAGE") if not os.environ.get(v)]
        if missing:
            raise SystemExit(f"platformctl: {', '.join(missing)} not set: run this through make")
        return cls(root=root, docker=os.environ.get("DOCKER", "docker"),
                   project=os.environ.get("PROJECT", "dagster-platform"),
                   compose=shlex.split(os.environ["DC_RAW"]), platform_image=os.environ["PLATFORM_IMAGE"],
                   webserver_url=os.environ.get("WEBSERVER_URL", "http://127.0.0.1:3000"))

    def env(self) -> dict[str, str]:
        return EnvFile.read(self.root / ".env").values()

    def locations(self) -> list[locations.Location]:
        return locations.discover(self.root)

    def bundles(self) -> dict[str, dict[str, str]]:
        env = self.env()
        return credentials.bundles(env, self.locations(), env.get("POSTGRES_USER") or "postgres")

    def write_volumes(self, only: set[str] | None = None) -> list[str]:
        return volumes.write_all(self.docker, self.platform_image, self.project, self.bundles(), only)

    def run(self, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), check=check, text=True, capture_output=capture)

    def dc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(*self.compose, *args, check=check)

    def reload_running(self, services: tuple[str, ...] = ("pgbouncer", "s3")) -> list[str]:
        """SIGHUP the running containers of `services`: PgBouncer re-reads pgbouncer.ini and
        SeaweedFS its identities, dropping no connection. Run after the volumes are written,
        so a changed setting or a new location's key takes effect on a running stack (a
        stopped service reads its volume when it starts). Returns the services signalled."""
        signalled = []
        for service in services:
            ids = self.run(self.docker, "ps", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
                           "--filter", f"label=com.docker.compose.service={service}").stdout.split()
            for container in ids:
                self.run(self.docker, "kill", "-s", "HUP", container)
            if ids:
                signalled.append(service)
        return signalled

    def reload_object_store(self) -> None:
        """SeaweedFS re-reads its identities on SIGHUP: no restart, no dropped request."""
        self.dc("kill", "-s", "SIGHUP", "s3")

    def run_init(self) -> None:
        proc = self.dc("run", "--rm", "--no-deps", "init", check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"init failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def verify(self, principal: str, timeout: float = 60) -> None:
        """Poll until the principal's current bundle opens Postgres and its bucket."""
        volume = volumes.volume_name(self.project, principal)
        env_args = []
        for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "S3_ENDPOINT_URL", "AWS_REGION",
                     "DAGSTER_LOGS_BUCKET"):
            env_args += ["-e", name]
        values = self.container_env("daemon")
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run(
                [self.docker, "run", "--rm", "--network", NETWORK, *env_args,
                 "-v", f"{volume}:{SECRETS_MOUNT}:ro", self.platform_image, "python", "-m", "platformctl.verify"],
                env={**os.environ, **values}, capture_output=True, text=True)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the new credentials of {principal} do not work: {proc.stderr.strip()[-500:]}")
            time.sleep(1)

    def container_env(self, service: str) -> dict[str, str]:
        """The plain (non-secret) environment a running service was given."""
        cid = self.dc("ps", "-q", service).stdout.strip()
        out = self.run(self.docker, "inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", cid).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def containers_of(self, location: str, created_before: float) -> list[str]:
        """Run containers of `location` still running that started before a moment."""
        ids = self.run(self.docker, "ps", "-q", "--filter", f"label=dagster-platform/location={location}").stdout.split()
        old = []
        for cid in ids:
            created = self.run(self.docker, "inspect", "-f", "{{.Created}}", cid).stdout.strip()
            if _epoch(created) < created_before:
                old.append(cid)
        return old


def _epoch(docker_time: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as seconds since the epoch."""
    from datetime import datetime

    head, _, frac = docker_time.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(head + "+00:00").timestamp()
    return stamp + (float("0." + frac[:6]) if frac else 0.0)
