"""Which code locations a change touches, as a JSON list (CI's build/test matrix).

    git diff --name-only BASE HEAD | changed_locations.py      changed paths on stdin
    changed_locations.py PATH...                             or as arguments
    changed_locations.py --all                               every location

A path under code_locations/<name>/ selects <name>. A change to what every
location image is built from (libs/, docker/Dockerfile, strip-native.sh and entrypoint.sh, .dockerignore: the
inputs docker/scripts/deploy.py hashes for every location) or to this CI
definition selects all of them. Anything else (docs/, helm/, tests/, ...)
selects none. Locations are the folders code_locations/*/pyproject.toml, in
name order; a path of a location that no longer exists selects nothing.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="changed paths (default: read from stdin, one a line)")
    parser.add_argument("--all", action="store_true", help="every location, whatever changed")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    locations = known_locations(args.root)
    if args.all:
        result = locations
    else:
        result = changed_locations(args.paths or sys.stdin.read().splitlines(), locations)
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
