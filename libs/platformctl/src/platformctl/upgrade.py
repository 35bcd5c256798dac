"""One pin for Dagster: the release set in the root pyproject.toml, every other pin follows it.

    platformctl upgrade VERSION [--no-lock]   move every pin to dagster VERSION, then `uv lock` everywhere
    platformctl upgrade --check               name every pin or lock that left the release set

The root pyproject.toml says which release the repository runs:

    [tool.dagster-platform]
    dagster = "1.13.27"

Dagster releases its core packages (dagster, dagster-webserver, dagster-graphql,
dagster-dg-cli, ...) as 1.Y.Z and its integrations (dagster-postgres, dagster-aws,
dagster-docker, dagster-k8s, dagster-dbt, ...) together with them as 0.(Y+16).Z:
dagster-dg-cli 1.13.27 requires dagster-rest-resources==0.29.27 on PyPI. Every
requirement on a dagster package in every project (the root, docker/platform,
libs/*, each location) is pinned `==` to one of the two; so are the charts'
appVersion and the locks. `make upgrade DAGSTER=<version>` rewrites all of them
and locks every project, all or nothing; the location template takes the pin
when a location is scaffolded.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from platformctl import locations, repo, uv

ROOT_PYPROJECT = "pyproject.toml"
FIXED_PROJECTS = [".", "docker/platform"]
CHARTS = ["helm/dagster-platform/Chart.yaml", "helm/dagster-code-location/Chart.yaml"]
VERSION_RE = re.compile(r"^1\.(\d+)\.(\d+)$")
INTEGRATIONS_OFFSET = 16  # 1.Y.Z <-> 0.(Y+16).Z
PIN_RE = re.compile(r"""(?P<q>["'])(?P<name>dagster(?:-[A-Za-z0-9_.-]+)?)(?P<extras>\[[^\]]*\])?"""
                    r"""==(?P<version>\d+\.\d+\.\d+)(?P<marker>\s*;[^"']*)?(?P=q)""")
RELEASE_LINE = re.compile(r'^(dagster\s*=\s*")([^"]*)(")', re.M)
APP_VERSION = re.compile(r'^(appVersion:\s*")([^"]*)(")', re.M)
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")


class UpgradeError(Exception):
    """The pins or the requested version are not what the upgrade needs; nothing changed."""


@dataclass(frozen=True)
class Release:
    core: str  # dagster, dagster-webserver, ...: 1.Y.Z
    integrations: str  # dagster-postgres, dagster-aws, ...: 0.(Y+16).Z

    @classmethod
    def of(cls, version: str) -> Release:
        match = VERSION_RE.fullmatch(version.strip())
        if not match:
            raise UpgradeError(f"{version!r} is not a Dagster release (1.Y.Z, e.g. 1.13.27)")
        minor, patch = int(match.group(1)), int(match.group(2))
        return cls(core=version.strip(), integrations=f"0.{minor + INTEGRATIONS_OFFSET}.{patch}")

    @property
    def versions(self) -> set[str]:
        return {self.core, self.integrations}


def release(root: Path) -> Release:
    """The release set the root pyproject.toml names."""
    data = tomllib.loads((root / ROOT_PYPROJECT).read_text())
    version = ((data.get("tool") or {}).get("dagster-platform") or {}).get("dagster")
    if not isinstance(version, str):
        raise UpgradeError(f'{ROOT_PYPROJECT}: [tool.dagster-platform] dagster = "1.Y.Z" is the Dagster release '
                           "the repository runs; it is missing")
    return Release.of(version)


def projects(root: Path) -> list[Path]:
    """Every Python project of the repository: the root, the platform image, the libraries, each location."""
    found = [root / rel for rel in FIXED_PROJECTS]
    found += sorted(p.parent for p in (root / "libs").glob("*/pyproject.toml"))
    found += [root / entry.path for entry in locations.entries(root)]
    return [p for p in found if (p / "pyproject.toml").is_file()]


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else "."


def requirements(data: dict) -> list[str]:
    """Every requirement string of a pyproject: dependencies, extras, groups, uv's overrides."""
    project = data.get("project") or {}
    out = list(project.get("dependencies") or [])
    for extra in (project.get("optional-dependencies") or {}).values():
        out += extra
    for group in (data.get("dependency-groups") or {}).values():
        out += [item for item in group if isinstance(item, str)]
    uv = (data.get("tool") or {}).get("uv") or {}
    out += list(uv.get("override-dependencies") or []) + list(uv.get("constraint-dependencies") or [])
    return out


def is_dagster(name: str) -> bool:
    name = re.sub(r"[-_.]+", "-", name.lower())
    return name == "dagster" or name.startswith("dagster-")


def pin_problems(root: Path, want: Release | None = None) -> list[str]:
    """Each pin, chart appVersion and lock entry that is not the release set's."""
    want = want or release(root)
    problems = []
    for project in projects(root):
        rel = f"{_rel(root, project)}/pyproject.toml".removeprefix("./")
        for req in requirements(tomllib.loads((project / "pyproject.toml").read_text())):
            match = REQUIREMENT.match(req)
            if not match or not is_dagster(match.group(1)):
                continue
            spec = match.group(3).strip()
            if not spec.startswith("==") or spec[2:].strip() not in want.versions:
                problems.append(f"{rel}: {req!r} is not pinned to the release set "
                                f"(=={want.core} or =={want.integrations}; root {ROOT_PYPROJECT})")
        lock = project / "uv.lock"
        if lock.is_file():
            for package in tomllib.loads(lock.read_text()).get("package", []):
                source = package.get("source") or {}
                if is_dagster(package["name"]) and "registry" in source and package["version"] not in want.versions:
                    problems.append(f"{_rel(root, lock)}: {package['name']} {package['version']} is locked, not "
                                    f"{want.core}/{want.integrations}: run `uv lock` there (or make upgrade)")
    for chart in CHARTS:
        match = APP_VERSION.search((root / chart).read_text()) if (root / chart).is_file() else None
        if match and match.group(2) != want.core:
            problems.append(f'{chart}: appVersion "{match.group(2)}" is not the release set\'s {want.core}')
    return problems


def rewrite(text: str, old: Release, new: Release, where: str) -> str:
    """`text` with every pin of `old` moved to `new`; any other dagster pin is an error."""
    def move(match: re.Match) -> str:
        version = match.group("version")
        if version == old.core:
            version = new.core
        elif version == old.integrations:
            version = new.integrations
        else:
            raise UpgradeError(f"{where}: {match.group('name')}=={version} is not in the release set "
                               f"{old.core}/{old.integrations}: fix it first (platformctl upgrade --check)")
        return (f"{match.group('q')}{match.group('name')}{match.group('extras') or ''}=={version}"
                f"{match.group('marker') or ''}{match.group('q')}")
    return PIN_RE.sub(move, text)


def planned(root: Path, new: Release) -> dict[Path, str]:
    """{file: its new text} for every pyproject and chart the upgrade changes."""
    old = release(root)
    problems = pin_problems(root, old)
    pins = [p for p in problems if "pyproject.toml" in p or "appVersion" in p]
    if pins:
        raise UpgradeError("the pins have left the release set; fix these first:\n  " + "\n  ".join(pins))
    out = {}
    for project in projects(root):
        path = project / "pyproject.toml"
        text = rewrite(path.read_text(), old, new, f"{_rel(root, path)}")
        if project == root:
            text = RELEASE_LINE.sub(lambda m: f"{m.group(1)}{new.core}{m.group(3)}", text, count=1)
        out[path] = text
    for chart in CHARTS:
        path = root / chart
        if path.is_file():
            out[path] = APP_VERSION.sub(lambda m: f"{m.group(1)}{new.core}{m.group(3)}", path.read_text(), count=1)
    return {path: text for path, text in out.items() if text != path.read_text()}


def upgrade(root: Path, version: str, lock: bool = True) -> list[Path]:
    """Move every pin to `version` and lock every project; on any failure put every file back."""
    new = Release.of(version)
    changes = planned(root, new)
    locks = [p / "uv.lock" for p in projects(root) if (p / "uv.lock").is_file()] if lock else []
    saved = {path: path.read_text() for path in [*changes, *locks]}
    try:
        for path, text in changes.items():
            path.write_text(text)
        for path in locks:
            print(f"uv lock: {_rel(root, path.parent)}", file=sys.stderr)
            error = uv.lock(path.parent, timeout=1800)
            if error:
                raise UpgradeError(error)
    except BaseException:
        for path, text in saved.items():
            path.write_text(text)
        raise
    return sorted(set(changes) | {p for p in locks if p.read_text() != saved[p]})


def main(argv: list[str]) -> int:
    root = repo.root()
    try:
        if argv == ["--check"]:
            problems = pin_problems(root)
            for problem in problems:
                print(f"error: {problem}", file=sys.stderr)
            return 1 if problems else 0
        args = [a for a in argv if a != "--no-lock"]
        if len(args) != 1:
            print("usage: platformctl upgrade VERSION [--no-lock] | --check   (make upgrade DAGSTER=1.Y.Z)",
                  file=sys.stderr)
            return 2
        changed = upgrade(root, args[0], lock="--no-lock" not in argv)
    except UpgradeError as exc:
        print(f"platformctl upgrade: {exc}\nNothing was changed.", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {_rel(root, path)}")
    new = Release.of(args[0])
    print(f"Dagster {new.core} (integrations {new.integrations}) pinned everywhere. Next: make test; "
          "bump the charts' `version` for a release.")
    return 0
