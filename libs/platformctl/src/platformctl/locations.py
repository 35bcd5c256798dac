"""The code locations and what each may touch, read from their own pyproject.toml.

Each location declares its grants next to its code, so a team changes them in
its own folder and the platform's init applies them:

    [tool.dagster-platform.warehouse]
    writes = ["raw"]      # schemas it owns: the tables of its assets
    reads = []            # schemas holding the assets it depends on
    [tool.dagster-platform.object-store]
    reads = ["landing"]   # buckets besides its own: "landing" or another location
    writes = []           # buckets besides its own it may write (housekeeping: "landing")

A location's own data bucket and the compute-log bucket need no declaration.
Every problem names the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

LOCATIONS_DIR = "code_locations"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Schemas no location may own or be granted: Postgres's own, and `public`,
# where nobody but the database owner creates anything.
RESERVED_SCHEMAS = {"public", "information_schema"}
LANDING = "landing"  # the landing bucket's name in object-store reads


class DeclarationError(ValueError):
    """A location's declaration is missing or wrong; the message names file and key."""


@dataclass(frozen=True)
class Location:
    name: str
    path: Path
    module: str
    warehouse_writes: tuple[str, ...]
    warehouse_reads: tuple[str, ...]
    bucket_reads: tuple[str, ...]
    bucket_writes: tuple[str, ...] = ()

    @property
    def env_prefix(self) -> str:
        return self.name.upper()


def _names(value: object, where: str, pattern: re.Pattern[str] = NAME_RE) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeclarationError(f"{where}: expected a list of names, got {value!r}")
    bad = [v for v in value if not pattern.fullmatch(v)]
    if bad:
        raise DeclarationError(f"{where}: {bad} are not valid names ({pattern.pattern})")
    if len(set(value)) != len(value):
        raise DeclarationError(f"{where}: lists a name twice: {value}")
    return tuple(value)


def load(project: Path) -> Location:
    """One location from its folder (code_locations/<name>)."""
    path = project / "pyproject.toml"
    rel = f"{LOCATIONS_DIR}/{project.name}/pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DeclarationError(f"{rel}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{rel}: not valid TOML: {exc}") from None
    name = project.name
    if not NAME_RE.fullmatch(name):
        raise DeclarationError(f"{rel}: the folder name {name!r} is not a valid location name ({NAME_RE.pattern})")
    tool = data.get("tool") or {}
    module = (tool.get("dagster") or {}).get("module_name")
    if module != f"{name}.definitions":
        raise DeclarationError(f"{rel}: [tool.dagster] module_name must be {name}.definitions, got {module!r}")
    declared = tool.get("dagster-platform")
    if not isinstance(declared, dict):
        raise DeclarationError(f"{rel}: no [tool.dagster-platform] table: declare the location's grants "
                               "(docs/security.md, 'What a location may touch')")
    unknown = set(declared) - {"warehouse", "object-store"}
    if unknown:
        raise DeclarationError(f"{rel}: [tool.dagster-platform] has unknown keys {sorted(unknown)}")
    warehouse = declared.get("warehouse") or {}
    store = declared.get("object-store") or {}
    for table, allowed, value in (("warehouse", {"writes", "reads"}, warehouse),
                                  ("object-store", {"reads", "writes"}, store)):
        if not isinstance(value, dict) or set(value) - allowed:
            raise DeclarationError(f"{rel}: [tool.dagster-platform.{table}] may only hold {sorted(allowed)}")
    return Location(
        name=name,
        path=project,
        module=module,
        warehouse_writes=_names(warehouse.get("writes", []), f"{rel}: tool.dagster-platform.warehouse.writes"),
        warehouse_reads=_names(warehouse.get("reads", []), f"{rel}: tool.dagster-platform.warehouse.reads"),
        bucket_reads=_names(store.get("reads", []), f"{rel}: tool.dagster-platform.object-store.reads"),
        bucket_writes=_names(store.get("writes", []), f"{rel}: tool.dagster-platform.object-store.writes"),
    )


def discover(root: Path) -> list[Location]:
    """Every location under ROOT/code_locations, checked against each other."""
    projects = sorted(p.parent for p in (root / LOCATIONS_DIR).glob("*/pyproject.toml"))
    locations = [load(p) for p in projects]
    check_together(locations)
    return locations


def check_together(locations: list[Location]) -> None:
    owner: dict[str, str] = {}
    for loc in locations:
        where = f"{LOCATIONS_DIR}/{loc.name}/pyproject.toml"
        for schema in loc.warehouse_writes:
            if schema in RESERVED_SCHEMAS or schema.startswith("pg_"):
                raise DeclarationError(f"{where}: tool.dagster-platform.warehouse.writes: {schema!r} is reserved")
            if schema in owner:
                raise DeclarationError(f"{where}: tool.dagster-platform.warehouse.writes: schema {schema!r} is "
                                       f"already written by location {owner[schema]!r}; a schema has one owner")
            owner[schema] = loc.name
    names = {loc.name for loc in locations}
    for loc in locations:
        where = f"{LOCATIONS_DIR}/{loc.name}/pyproject.toml"
        for schema in loc.warehouse_reads:
            if schema not in owner:
                raise DeclarationError(f"{where}: tool.dagster-platform.warehouse.reads: no location writes "
                                       f"schema {schema!r}")
            if owner[schema] == loc.name:
                raise DeclarationError(f"{where}: tool.dagster-platform.warehouse.reads: {schema!r} is its own "
                                       "(listed in writes); list it once")
        for key, buckets in (("reads", loc.bucket_reads), ("writes", loc.bucket_writes)):
            for bucket in buckets:
                if bucket != LANDING and bucket not in names:
                    raise DeclarationError(f"{where}: tool.dagster-platform.object-store.{key}: {bucket!r} is "
                                           f"neither {LANDING!r} nor a location")
                if bucket == loc.name:
                    raise DeclarationError(f"{where}: tool.dagster-platform.object-store.{key}: its own bucket "
                                           "needs no declaration")
        if loc.bucket_writes and set(loc.bucket_writes) - {LANDING}:
            raise DeclarationError(f"{where}: tool.dagster-platform.object-store.writes: only {LANDING!r} may be "
                                   "written by another location; a location's bucket is its own")


def schema_owners(locations: list[Location]) -> dict[str, str]:
    return {schema: loc.name for loc in locations for schema in loc.warehouse_writes}
