"""Which code locations a change touches, as a JSON list (CI's build/test matrix),
and whether it touches the platform (CI's platform suite).

    git diff --name-only BASE HEAD | platformctl changed-locations   changed paths on stdin
    platformctl changed-locations PATH...                          or as arguments
    platformctl changed-locations --all                            every location
    platformctl changed-locations --platform [PATH...]             `true` or `false`

A path under code_locations/<name>/ selects <name>. A change to what every
location image is built from (libs/platform_common, libs/platform_services,
docker/Dockerfile, strip-native.sh and entrypoint.sh, .dockerignore: the inputs
platformctl.deploy hashes for every location) or to this CI definition selects
all of them. Anything else (docs/, helm/, tests/, libs/platformctl/, ...)
selects none. The locations are dg.toml's, in its order: the matrix is read
from the one list when CI runs; a path of a location that no longer exists
selects nothing.

The platform suite (`make test-platform`) runs for a change to any path
outside code_locations/ and docs/ (dagster.yaml, workspace.yaml, docker/,
helm/, libs/, tests/, the Makefile, the root pyproject.toml and uv.lock,
.github/, .ci/, README.md, ...), and for a location's pyproject.toml or
uv.lock, whose locks and image contents the suite checks for every location.
Standard library only: CI runs it before any environment exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from platformctl import deploy, locations, repo

ALL_PREFIXES = tuple(f"{lib}/" for lib in deploy.LOCATION_LIBS)
ALL_FILES = {
    *deploy.COMMON_INPUTS,
    ".github/workflows/locations.yml",
    "libs/platformctl/src/platformctl/changed_locations.py",
}


NOT_PLATFORM_PREFIXES = ("code_locations/", "docs/")
LOCATION_MANIFESTS = ("pyproject.toml", "uv.lock")


def known_locations(root: Path) -> list[str]:
    """dg.toml's locations, each with its folder."""
    return locations.names(root)


def changed_locations(paths: Iterable[str], known: Iterable[str]) -> list[str]:
    """The locations `paths` touch, in the order of `known`."""
    known = list(dict.fromkeys(known))
    selected: set[str] = set()
    for raw in paths:
        path = raw.strip().removeprefix("./")
        if not path:
            continue
        if path in ALL_FILES or path.startswith(ALL_PREFIXES):
            return known
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == "code_locations" and parts[1] in known:
            selected.add(parts[1])
    return [name for name in known if name in selected]


def platform_changed(paths: Iterable[str]) -> bool:
    for raw in paths:
        path = raw.strip().removeprefix("./")
        if not path:
            continue
        parts = path.split("/")
        if not path.startswith(NOT_PLATFORM_PREFIXES):
            return True
        if len(parts) == 3 and parts[0] == "code_locations" and parts[2] in LOCATION_MANIFESTS:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl changed-locations", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="changed paths (default: read from stdin, one a line)")
    parser.add_argument("--all", action="store_true", help="every location, whatever changed")
    parser.add_argument("--platform", action="store_true", help="print whether the platform suite must run")
    parser.add_argument("--root", type=Path, default=None, help="default: the repository (dg.toml's folder)")
    args = parser.parse_args(argv)
    if args.platform:
        print(json.dumps(platform_changed(args.paths or sys.stdin.read().splitlines())))
        return 0
    known = known_locations(args.root or repo.root())
    if args.all:
        result = known
    else:
        result = changed_locations(args.paths or sys.stdin.read().splitlines(), known)
    print(json.dumps(result, separators=(",", ":")))
    return 0
