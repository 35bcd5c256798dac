"""`make new-location NAME=<name>`: scaffold a code location and list it in dg.toml.

    platformctl new-location NAME

Writes code_locations/NAME from the templates next to this module (a dg
project: pyproject.toml with its grants, writing schema NAME, and the Dagster
pins of the release set; uv.lock; src/NAME/definitions.py with a defs/ folder
holding an example asset and a `NAME_hello_job`; tests), adds one
`[[workspace.projects]]` entry to dg.toml, and regenerates what is generated
from dg.toml (platformctl.generate: workspace.yaml, the platform chart's
codeLocations, helm/values/NAME.yaml, the bench's reference services,
CODEOWNERS, a row of the README's table, and the git-ignored compose file).
Nothing else needs an edit: the Makefile, the CI matrix and .env read dg.toml.

All-or-nothing: the project is rendered and locked (`uv lock`) in a staging
folder and every generated text computed before any file of the repository
changes; a failure while writing puts back what was written.

Exit status: 0 done; 2 the name is refused (nothing changed); 1 anything else
went wrong (nothing changed).
"""

from __future__ import annotations

import argparse
import keyword
import os
import re
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from platformctl import generate, locations, repo, upgrade, uv
from platformctl.generate import TEMPLATES, Failed, read, render
from platformctl.locations import LOCATIONS_DIR, NAME_RE, DeclarationError
from platformctl.repo import WORKSPACE_FILE

# Compose services and image names of the platform itself, and the packages
# every location imports (a location module of that name would shadow them).
RESERVED = {
    "postgres", "pgbouncer", "s3", "init", "webserver", "daemon", "platform", "landing",
    "dagster", "platform_common", "platform_services", "platformctl", "pandas",
}
# The template's own files that are not the project's.
NOT_PROJECT = {"README.md", "helm-values.yaml.tmpl"}


class Refused(Exception):
    """The name cannot be used: exit status 2, nothing changed."""


def compose_services(text: str) -> list[str]:
    """Service names under docker/compose.yaml's `services:` (two-space keys), in file order."""
    match = re.search(r"^services:\s*$", text, re.M)
    if not match:
        raise Failed(f"{generate.COMPOSE}: no top-level `services:` key")
    names = []
    for line in text[match.end():].splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            break  # the next top-level key (volumes:, networks:)
        key = re.match(r"^  ([A-Za-z0-9_.-]+):\s*$", line)
        if key:
            names.append(key.group(1))
    return names


def check_name(root: Path, name: str) -> None:
    if not name:
        raise Refused("NAME is required: make new-location NAME=<name> (e.g. NAME=billing)")
    if not NAME_RE.fullmatch(name):
        raise Refused(
            f"{name!r} is not a valid location name: use lowercase letters, digits and "
            "underscores, starting with a letter, at most 40 (^[a-z][a-z0-9_]{0,39}$; no dashes or "
            "uppercase), so it is a Python package name, a compose service and an env var prefix"
        )
    if keyword.iskeyword(name):
        raise Refused(f"{name!r} is a Python keyword and cannot be a package name")
    if name in RESERVED:
        raise Refused(
            f"{name!r} is reserved: it is a platform service or image, or a package every location "
            f"imports ({', '.join(sorted(RESERVED))})"
        )
    where = []
    if (root / LOCATIONS_DIR / name).exists():
        where.append(f"{LOCATIONS_DIR}/{name}")
    if name in [entry.name for entry in locations.listed(root)]:
        where.append(f"an entry in {WORKSPACE_FILE}")
    if name in compose_services(read(root, generate.COMPOSE)):
        where.append(f"a service in {generate.COMPOSE}")
    if (root / generate.LOCATION_VALUES / f"{name}.yaml").exists():
        where.append(f"{generate.LOCATION_VALUES}/{name}.yaml")
    if where:
        raise Refused(f"location {name!r} already exists: {'; '.join(where)}")


def add_entry(text: str, entries: list[locations.Entry], name: str) -> str:
    """dg.toml with a `[[workspace.projects]]` entry for NAME after the last one."""
    lines = text.splitlines(keepends=True)
    if entries:
        at = entries[-1].line
    else:
        at = next((i + 1 for i, line in enumerate(lines) if line.strip() == "[workspace]"), None)
        if at is None:
            raise Failed(f"{WORKSPACE_FILE}: no [workspace] table to add the location to")
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    entry = ["\n", "[[workspace.projects]]\n", f'path = "{LOCATIONS_DIR}/{name}"\n']
    return "".join(lines[:at] + entry + lines[at:])


def render_project(dest: Path, name: str, pins: upgrade.Release) -> None:
    for src in sorted(TEMPLATES.rglob("*.tmpl")):
        rel = src.relative_to(TEMPLATES)
        if rel.as_posix() in NOT_PROJECT:
            continue
        out = dest / Path(*(name if part == "__name__" else part for part in rel.parts)).with_suffix("")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(src.read_text(), name, dagster=pins.core, integrations=pins.integrations))


def lock(project: Path, seed: Path | None) -> None:
    """`uv lock` the new project, seeded with a sibling's lock so versions match."""
    if seed is not None and seed.is_file():
        shutil.copyfile(seed, project / "uv.lock")
    error = uv.lock(project, timeout=600)
    if error:
        raise Failed(error)


@dataclass
class Transaction:
    """Applies edits and new paths; undo() puts the repository back as it was."""

    root: Path
    edited: dict[Path, str] = field(default_factory=dict)  # path -> original text
    created: list[Path] = field(default_factory=list)

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        if path.exists() and path not in self.edited:
            self.edited[path] = path.read_text()
        elif not path.exists():
            self.created.append(path)
        tmp = path.with_name(f".{path.name}.new-location.tmp")
        tmp.write_text(text)
        if path in self.edited:
            shutil.copymode(path, tmp)
        os.replace(tmp, path)

    def move_dir(self, src: Path, rel: str) -> None:
        dest = self.root / rel
        os.rename(src, dest)  # same filesystem (staged next to it): atomic
        self.created.append(dest)

    def undo(self) -> None:
        for path in reversed(self.created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for path, text in self.edited.items():
            path.write_text(text)


def scaffold(root: Path, name: str, *, run_lock: bool = True) -> list[str]:
    """Write the location and its dg.toml entry, regenerate the rest; the paths written."""
    check_name(root, name)
    try:
        entries = locations.entries(root)
        found = locations.discover(root)
    except DeclarationError as exc:
        raise Failed(f"the repository's locations do not agree; fix this first: {exc}") from None
    dg_toml = add_entry(read(root, WORKSPACE_FILE), entries, name)
    pins = upgrade.release(root)
    locations_dir = root / LOCATIONS_DIR
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.new-location-", dir=locations_dir))
    tx = Transaction(root)
    try:
        render_project(staging, name, pins)
        # Every generated text, with the new location, before anything is written.
        wanted, problems = generate.plan(root, [*found, locations.load(staging, name)])
        if problems:
            raise Failed("; ".join(problems))
        changed = generate.stale(root, wanted)
        if run_lock:
            lock(staging, root / entries[0].path / "uv.lock" if entries else None)
        tx.move_dir(staging, f"{LOCATIONS_DIR}/{name}")
        tx.write(WORKSPACE_FILE, dg_toml)
        for rel in changed:
            tx.write(rel, wanted[rel])
    except BaseException:
        tx.undo()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    generate.write_compose(root)  # git-ignored, rewritten by make anyway
    return [f"{LOCATIONS_DIR}/{name}/", WORKSPACE_FILE, *changed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl new-location", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="")
    parser.add_argument("--no-lock", action="store_true", help=argparse.SUPPRESS)  # tests of the wiring only
    args = parser.parse_args(argv)
    name = args.name.strip()
    root = repo.root()
    # A stop request (make interrupted, CI cancelled) unwinds like a failure: nothing half-written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        changed = scaffold(root, name, run_lock=not args.no_lock)
    except Refused as exc:
        print(f"new-location: refused: {exc}. Nothing was changed.", file=sys.stderr)
        return 2
    except (Failed, DeclarationError, upgrade.UpgradeError) as exc:
        print(f"new-location: failed: {exc}\nNothing was changed.", file=sys.stderr)
        return 1
    print(f"new location {name!r}: wrote")
    for rel in changed:
        print(f"  {rel}")
    print(
        f"next: (cd code_locations/{name} && uv run --group dev pytest -q && uv run --group dev dg check defs); "
        f"make test; make up (builds its image); see docs/adding-a-location.md"
    )
    return 0
