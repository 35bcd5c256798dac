"""Which code locations a change touches, as a JSON list (CI's build/test matrix),
and whether it touches the platform (CI's platform suite).

    git diff --name-only BASE HEAD | changed_locations.py      changed paths on stdin
    changed_locations.py PATH...                             or as arguments
    changed_locations.py --all                               every location
    changed_locations.py --platform [PATH...]                `true` or `false`

A path under code_locations/<name>/ selects <name>. A change to what every
location image is built from (libs/, docker/Dockerfile, strip-native.sh and entrypoint.sh, .dockerignore: the
inputs docker/scripts/deploy.py hashes for every location) or to this CI
definition selects all of them. Anything else (docs/, helm/, tests/, ...)
selects none. Locations are the folders code_locations/*/pyproject.toml, in
name order; a path of a location that no longer exists selects nothing.

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

ROOT = Path(__file__).resolve().parents[2]
ALL_PREFIXES = ("libs/",)
ALL_FILES = {
    "docker/Dockerfile",
    "docker/strip-native.sh",
    "docker/entrypoint.sh",
    ".dockerignore",
    ".github/workflows/locations.yml",
    "docker/scripts/changed_locations.py",
}


NOT_PLATFORM_PREFIXES = ("code_locations/", "docs/")
LOCATION_MANIFESTS = ("pyproject.toml", "uv.lock")


def known_locations(root: Path = ROOT) -> list[str]:
    return sorted(p.parent.name for p in (root / "code_locations").glob("*/pyproject.toml"))


def changed_locations(paths: Iterable[str], locations: Iterable[str]) -> list[str]:
    locations = sorted(set(locations))
    selected: set[str] = set()
    for raw in paths:
        path = raw.strip().removeprefix("./")
        if not path:
            continue
        if path in ALL_FILES or path.startswith(ALL_PREFIXES):
            return locations
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == "code_locations" and parts[1] in locations:
            selected.add(parts[1])
    return sorted(selected)


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="changed paths (default: read from stdin, one a line)")
    parser.add_argument("--all", action="store_true", help="every location, whatever changed")
    parser.add_argument("--platform", action="store_true", help="print whether the platform suite must run")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    if args.platform:
        print(json.dumps(platform_changed(args.paths or sys.stdin.read().splitlines())))
        return 0
    locations = known_locations(args.root)
    if args.all:
        result = locations
    else:
        result = changed_locations(args.paths or sys.stdin.read().splitlines(), locations)
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
