"""The floor of the stack's topology in stock Dagster: what its Dagster processes
hold at rest before any of our code is loaded.

Beside the running stack, on an internal network of their own, it starts from the
stack's own images, with their own commands and environment:

- one code server per location, running the location container's command with
  `--module-name <location>.definitions` replaced by a file holding an empty
  `dg.Definitions()` (and the imports in REQUIRED_IMPORTS);
- Dagster's webserver and daemon (their containers' images and commands) on a
  workspace of those code servers.

The code servers have no instance (the stack's build a Postgres one). The
webserver's and daemon's is Dagster's default, SQLite in a scratch DAGSTER_HOME
inside each container: no credentials, and no Postgres client library. Each
figure is meant as a lower bound for the same process of the stack, whatever its
code and configuration; the bench's table shows both side by side. Nothing is
published; every container and the network are removed afterwards.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import uuid
from collections.abc import Callable, Sequence

import yaml

from tests.e2e.platform import docker, inspect, poll, service_container

EMPTY_DEFINITIONS = "import dagster as dg\n{imports}\ndefs = dg.Definitions()\n"
# What a location must load before any code of its own, because the platform is
# built that way: the transform team runs its dbt project through dagster-dbt
# (README), so its code server cannot define its assets without importing it.
REQUIRED_IMPORTS = {"transform": ("dagster_dbt",)}
FLOOR_HOME = "/tmp/floor"  # DAGSTER_HOME inside each floor container
INSTANCE = {"telemetry": {"enabled": False}}  # Dagster's default storage (SQLite), as dagster.yaml says for telemetry
PLATFORM_SERVICES = ("webserver", "daemon")  # the Dagster services beside the code servers
GRPC_PORT = 4000
WEBSERVER_PORT = 3000
# Writes the files handed over in FLOOR_* variables, then runs the command.
SETUP = (
    f'mkdir -p {FLOOR_HOME} && printf "%s" "$FLOOR_INSTANCE" > {FLOOR_HOME}/dagster.yaml'
    f' && printf "%s" "$FLOOR_DEFS" > {FLOOR_HOME}/defs.py'
    f' && printf "%s" "$FLOOR_WORKSPACE" > {FLOOR_HOME}/workspace.yaml && exec "$@"'
)
LOCATIONS_LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
# Asks the floor's webserver from inside its container: it is not published.
ASK_WEBSERVER = (
    "import json, sys, urllib.request\n"
    "req = urllib.request.Request('http://localhost:%d/graphql', data=json.dumps({'query': sys.argv[1]}).encode(),"
    " headers={'Content-Type': 'application/json'})\n"
    "print(urllib.request.urlopen(req, timeout=10).read().decode())\n" % WEBSERVER_PORT
)


def code_server_command(location_command: Sequence[str]) -> list[str]:
    """The location container's command with its definitions replaced by the empty
    ones; the rest (host, port, lazy loading) as the stack runs it."""
    *head, script = location_command
    empty, n = re.subn(r"--module-name\s+(\"[^\"]*\"|'[^']*'|\S+)", f"--python-file {FLOOR_HOME}/defs.py", script)
    if n != 1 or "dagster api grpc" not in empty:
        raise ValueError(f"not a `dagster api grpc --module-name ...` command: {list(location_command)!r}")
    return [*head, empty]


def workspace_command(command: Sequence[str]) -> list[str]:
    """The webserver's or daemon's command with `-w` pointed at the floor's workspace."""
    out = list(command)
    if "-w" not in out:
        raise ValueError(f"no -w <workspace> in {out!r}")
    out[out.index("-w") + 1] = f"{FLOOR_HOME}/workspace.yaml"
    return out


def workspace(locations: Sequence[str]) -> str:
    return yaml.safe_dump({"load_from": [
        {"grpc_server": {"host": location, "port": GRPC_PORT, "location_name": location}} for location in locations]})


def empty_definitions(location: str) -> str:
    return EMPTY_DEFINITIONS.format(imports="".join(f"import {m}  # noqa: F401\n" for m in REQUIRED_IMPORTS.get(location, ())))


def floor_env(container_env: Sequence[str], locations: Sequence[str], *, instance: bool, defs: str) -> list[str]:
    """The container's own environment (no credentials: those are a file, never
    environment) and the files to write. With `instance`, DAGSTER_HOME is the scratch
    one; without, it is unset, and a code server runs with no instance at all (it
    builds one only if it can: `DagsterApiServer.__init__`)."""
    kept = [item for item in container_env if not item.startswith("DAGSTER_HOME=")]
    return [*kept, *([f"DAGSTER_HOME={FLOOR_HOME}"] if instance else []), f"FLOOR_INSTANCE={yaml.safe_dump(INSTANCE)}",
            f"FLOOR_DEFS={defs}", f"FLOOR_WORKSPACE={workspace(locations)}"]


def floor_run_args(name: str, network: str, alias: str, image: str, env: Sequence[str],
                   command: Sequence[str], label: str) -> list[str]:
    args = ["run", "-d", "--name", name, "--network", network, "--network-alias", alias, "--label", label]
    for item in env:
        args += ["-e", item]
    return [*args, "--entrypoint", "/bin/sh", image, "-c", SETUP, "floor", *command]


def all_loaded(body: str, locations: Sequence[str]) -> bool:
    entries = json.loads(body)["data"]["workspaceOrError"]["locationEntries"]
    return sorted(e["name"] for e in entries) == sorted(locations) and all(e["loadStatus"] == "LOADED" for e in entries)


def with_stack_services(dagster_mib: float, stack_per_service: dict[str, float], dagster_services: Sequence[str],
                        service_of: Callable[[str], str]) -> dict:
    """The floor plus what the stack's other services (Postgres, PgBouncer, the
    object store) held at rest: the least this topology can take."""
    others = {service_of(c): mib for c, mib in stack_per_service.items() if service_of(c) not in dagster_services}
    return {"others_mib": others, "total_mib": round(dagster_mib + sum(others.values()), 1)}


def measure(*, memory: Callable[[Sequence[str]], tuple[list[float], dict[str, float]]], locations: Sequence[str],
            rest_seconds: float, log: Callable[[str], None]) -> dict:
    """Start the floor, wait until every location is loaded and the daemon is live,
    rest, then sample the floor's containers with `memory` (the bench's own
    sampler: the total of each reading, and the last reading in MiB by container)."""
    token = uuid.uuid4().hex[:8]
    network, label = f"bench-floor-{token}", f"dagster-platform.bench-floor={token}"
    names: dict[str, str] = {}
    docker("network", "create", "--internal", network)
    try:
        for service in [*locations, *PLATFORM_SERVICES]:
            (cid,) = service_container(service).split()
            config = inspect(cid)["Config"]
            command = (code_server_command(config["Cmd"]) if service in locations else workspace_command(config["Cmd"]))
            names[service] = f"bench-floor-{service}-{token}"
            docker(*floor_run_args(names[service], network, service, config["Image"],
                                   floor_env(config["Env"], locations, instance=service not in locations,
                                             defs=empty_definitions(service)),
                                   command, label))
        log(f"floor: {len(locations)} empty code servers, webserver and daemon started")
        poll(lambda: all_loaded(docker("exec", names["webserver"], "python", "-c", ASK_WEBSERVER, LOCATIONS_LOADED),
                                locations),
             timeout=300, interval=2, what="the floor's webserver to load every empty location",
             transient=(AssertionError, ValueError, KeyError, TypeError))
        # Exits non-zero (docker() raises) until the daemon has written a heartbeat.
        poll(lambda: docker("exec", names["daemon"], "dagster-daemon", "liveness-check") is not None,
             timeout=300, interval=2, what="the floor's daemon to report a heartbeat", transient=(AssertionError,))
        time.sleep(rest_seconds)  # the condition measured (no request at all), as the stack's idle footprint
        totals, by_name = memory(list(names.values()))
        return {"dagster_mib": round(statistics.median(totals), 1), "samples_mib": totals,
                "per_service_mib": {service: by_name[name] for service, name in names.items()}, "rest_s": rest_seconds}
    finally:
        ids = docker("ps", "-aq", "--filter", f"label={label}").split()
        if ids:
            docker("rm", "-f", *ids)
        docker("network", "rm", network, check=False)

