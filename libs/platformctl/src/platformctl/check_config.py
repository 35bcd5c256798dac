"""`make check`: validate the platform's config before anything starts.

    platformctl check [--root ROOT] [--env-file FILE]

Checks dagster.yaml and workspace.yaml with Dagster's own schemas (including
each configured class's own config), the compose files' security rules
(docker/compose.yaml with the location services generated from dg.toml, as
compose merges them), and that every variable they require is set. Every
message names the file and the key. Exit status 1 when anything is wrong.

It needs Dagster and PyYAML: `make check` runs it inside the platform image,
the tests from the root's dev environment. Private Dagster names come only
through platform_services.private_api.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

from platformctl import generate, locations

COMPOSE = generate.COMPOSE
REQUIRED_VAR = re.compile(r"\$\{(\w+):\?[^}]*\}")
ANY_VAR = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")
RUN_LAUNCHING_SERVICES = {"webserver", "daemon"}
BUNDLE_VARIABLES = ("DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATA_BUCKET")
PUBLISHED_SERVICES = {"webserver"}


def _errors_text(errors) -> list[str]:
    out = []
    for err in errors:
        stack = ".".join(str(e.field_name) for e in err.stack.entries if hasattr(e, "field_name"))
        out.append(f"{stack or '<root>'}: {err.message}")
    return out


def load_yaml(path: Path, problems: list[str]) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML: {exc}")
    return None


def load_mapping(path: Path, expected: str) -> tuple[dict, list[str]]:
    """The YAML mapping at `path`, or the problems that say why there is none."""
    problems: list[str] = []
    data = load_yaml(path, problems)
    if problems:
        return {}, problems
    if not isinstance(data, dict):
        return {}, [f"{path}: expected {expected}"]
    return data, []


def check_instance(path: Path, env: Mapping[str, str]) -> list[str]:
    """dagster.yaml against the instance schema, then each class's own schema."""
    from platform_services.private_api import (
        DagsterInvalidConfigError,
        class_from_code_pointer,
        dagster_instance_config,
        process_config,
    )

    data, problems = load_mapping(path, "a mapping at the top level")
    if problems:
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "dagster.yaml").write_text(path.read_text())
        try:
            dagster_instance_config(tmp)
        except DagsterInvalidConfigError as exc:
            details = _errors_text(exc.errors) or [str(exc).splitlines()[0]]
            return [f"{path}: {d}" for d in details]
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        sections: dict[str, Mapping] = {
            k: data[k] for k in ("run_launcher", "run_coordinator", "compute_logs") if k in data
        }
        storage = data.get("storage") or {}
        if "postgres" in storage:
            sections["storage.postgres"] = {
                "module": "dagster_postgres",
                "class": "DagsterPostgresStorage",
                "config": storage["postgres"],
            }
        if "custom" in storage:
            sections["storage.custom"] = storage["custom"]
        for key, section in sections.items():
            try:
                klass = class_from_code_pointer(section["module"], section["class"])
            except Exception as exc:  # noqa: BLE001 - report any import failure by key
                problems.append(f"{path}: {key}: cannot import {section['module']}.{section['class']}: {exc}")
                continue
            result = process_config(klass.config_type(), section.get("config") or {})
            if not result.success:
                problems += [f"{path}: {key}.config.{e}" for e in _errors_text(result.errors)]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return problems


def check_workspace(path: Path) -> list[str]:
    from platform_services.private_api import process_workspace_config

    data, problems = load_mapping(path, "a mapping with load_from")
    if problems:
        return problems
    result = process_workspace_config(data)
    if not result.success:
        return [f"{path}: {e}" for e in _errors_text(result.errors)]
    names = [e["grpc_server"].get("location_name") for e in data["load_from"] if "grpc_server" in e]
    if len(names) != len(data["load_from"]):
        problems.append(f"{path}: load_from: every entry must be a grpc_server (one code server per location)")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"{path}: load_from: duplicate location_name {', '.join(dupes)}")
    return problems


def workspace_locations(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text())
    return [e["grpc_server"]["location_name"] for e in data["load_from"]]


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name.strip()):
            raise ValueError(f"{path}:{n}: expected NAME=value, got {line!r}")
        env[name.strip()] = value.strip()
    return env


def merge_compose(base: dict, extra: dict) -> dict:
    """`extra` over `base` the way compose merges -f files: services and volumes by
    name, a service's mappings (environment, depends_on, labels) key by key."""
    merged = dict(base)
    for section in ("services", "volumes", "networks"):
        into = dict(merged.get(section) or {})
        for name, spec in (extra.get(section) or {}).items():
            old = into.get(name)
            if isinstance(old, dict) and isinstance(spec, dict):
                spec = {key: {**old[key], **value} if isinstance(old.get(key), dict) and isinstance(value, dict)
                        else value for key, value in {**old, **spec}.items()}
            into[name] = spec
        if into:
            merged[section] = into
    return merged


def locations_compose(root: Path) -> str:
    """The compose file make writes to .generated/ (platformctl.generate), from dg.toml."""
    return generate.compose_locations((root / COMPOSE).read_text(), locations.discover(root))


def check_compose(path: Path, env: Mapping[str, str], locations_text: str | None = None) -> list[str]:
    """The compose file at `path`, merged with the generated location services when given."""
    problems: list[str] = []
    text = path.read_text() if path.exists() else ""
    data = load_yaml(path, problems)
    if problems:
        return problems
    origin = {svc: str(path) for svc in (data.get("services") or {})}
    if locations_text is not None:
        extra = yaml.safe_load(locations_text)
        origin.update({svc: f"{generate.COMPOSE_LOCATIONS} (generated from dg.toml)"
                       for svc in extra.get("services") or {} if svc not in origin})
        data = merge_compose(data, extra)
        text += locations_text
    for name in sorted(set(REQUIRED_VAR.findall(text))):
        if name.endswith("_TAG"):
            continue  # image tags: make sets them from content hashes (platformctl.deploy)
        if not env.get(name):
            problems.append(f"{path}: variable {name} is required but not set (add it to .env; see .env.example)")
    for key in ("version", "name"):
        if key in data:
            problems.append(f"{path}: top-level '{key}:' breaks docker-compose 1.29 or v2; remove it")
    for svc, spec in (data.get("services") or {}).items():
        where = origin.get(svc, str(path))
        for port in spec.get("ports") or []:
            if svc not in PUBLISHED_SERVICES:
                problems.append(f"{where}: services.{svc}.ports: only the webserver may be published")
            elif not str(port).startswith("127.0.0.1:"):
                problems.append(f"{where}: services.{svc}.ports: {port!r} must bind 127.0.0.1")
        socket = any("docker.sock" in str(v) for v in spec.get("volumes") or [])
        if socket and svc not in RUN_LAUNCHING_SERVICES:
            problems.append(f"{where}: services.{svc}.volumes: the Docker socket is for run launchers only")
        if "healthcheck" not in spec and spec.get("restart") != "no":
            problems.append(f"{where}: services.{svc}: long-running service without a healthcheck")
    return problems


def load_compose(root: Path) -> dict:
    """docker/compose.yaml with the generated location services, merged as compose does."""
    base = yaml.safe_load((root / COMPOSE).read_text()) or {}
    return merge_compose(base, yaml.safe_load(locations_compose(root)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl check", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--env-file", type=Path, default=None, help="default: ROOT/.env")
    args = parser.parse_args(argv)
    root = args.root
    env_file = args.env_file or root / ".env"
    problems: list[str] = []
    try:
        env = read_env_file(env_file)
    except FileNotFoundError:
        env = {}
        problems.append(f"{env_file}: not found (run `make .env` or copy .env.example)")
    except ValueError as exc:
        env = {}
        problems.append(str(exc))
    compose = yaml.safe_load((root / COMPOSE).read_text()) or {}
    platform_env = {
        k: ANY_VAR.sub(lambda m: env.get(m.group(1), "x"), str(v))
        for k, v in (compose.get("x-platform-env") or {}).items()
    }
    # What each container's credentials bundle adds at start (platformctl.credentials).
    platform_env.update({name: "x" for name in BUNDLE_VARIABLES})
    problems += check_instance(root / "dagster.yaml", platform_env)
    problems += check_workspace(root / "workspace.yaml")
    try:
        locations_text = locations_compose(root)
    except (locations.DeclarationError, generate.Failed) as exc:
        locations_text = None
        problems.append(str(exc))
    problems += check_compose(root / COMPOSE, env, locations_text)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if not problems:
        print(f"config ok: dagster.yaml, workspace.yaml, {COMPOSE} with the locations of dg.toml, .env")
    return 1 if problems else 0
