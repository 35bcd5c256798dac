"""The code locations: which there are (dg.toml), and what each may touch (its pyproject.toml).

dg.toml, the root's dg workspace, is THE list of locations: one
`[[workspace.projects]] path = "code_locations/<name>"` entry each, in the
order every generated list follows (platformctl.generate). A folder
code_locations/<name>/ with a pyproject.toml that dg.toml does not list, or an
entry whose folder is missing, is an error naming the file and the entry.

Each location declares its grants next to its code, so a team changes them in
its own folder and the platform's init applies them:

    [tool.dagster-platform]
    owners = ["@example/ingest-team"]  # its CODEOWNERS (none: the platform team's)
    [tool.dagster-platform.warehouse]
    writes = ["raw"]      # schemas it owns: the tables of its assets
    reads = []            # schemas holding the assets it depends on
    [tool.dagster-platform.object-store]
    reads = ["landing"]   # buckets besides its own: "landing" or another location
    writes = []           # buckets besides its own it may write (housekeeping: "landing")
    [tool.dagster-platform.compose]
    environment = {}      # plain settings its compose service adds (no secrets)

A location's own data bucket and the compute-log bucket need no declaration.
Each is a dg project too: `[tool.dg.project] root_module = "<name>"`.
Every problem names the file and the key (or dg.toml's line).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from platformctl.repo import WORKSPACE_FILE

LOCATIONS_DIR = "code_locations"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Schemas no location may own or be granted: Postgres's own, and `public`,
# where nobody but the database owner creates anything.
RESERVED_SCHEMAS = {"public", "information_schema"}
LANDING = "landing"  # the landing bucket's name in object-store reads
ENV_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Compose files hold no secret (docs/security.md): a name like these is refused.
SECRET_NAME_RE = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|API_KEY|PRIVATE")
OWNER_RE = re.compile(r"^@[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$")
PLATFORM_KEYS = {"owners", "warehouse", "object-store", "compose"}


class DeclarationError(ValueError):
    """A location's declaration is missing or wrong; the message names file and key."""


@dataclass(frozen=True)
class Entry:
    """One `[[workspace.projects]]` entry of dg.toml."""

    name: str
    path: str  # as written: code_locations/<name>
    index: int  # its position in workspace.projects
    line: int  # dg.toml's line that names it (1-based)

    @property
    def where(self) -> str:
        return f"{WORKSPACE_FILE}:{self.line}: workspace.projects[{self.index}] path = {self.path!r}"


@dataclass(frozen=True)
class Location:
    name: str
    path: Path
    module: str
    warehouse_writes: tuple[str, ...]
    warehouse_reads: tuple[str, ...]
    bucket_reads: tuple[str, ...]
    bucket_writes: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    compose_environment: tuple[tuple[str, str], ...] = ()

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


def _line_of(lines: list[str], texts: tuple[str, ...], after: int) -> int:
    """The 1-based number of the first line after line `after` holding one of `texts`."""
    for number, line in enumerate(lines[after:], after + 1):
        if any(text in line for text in texts):
            return number
    return min(after + 1, max(len(lines), 1))


def listed(root: Path) -> list[Entry]:
    """dg.toml's entries, checked for shape: a list of code_locations/<name>, each once."""
    path = root / WORKSPACE_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DeclarationError(f"{WORKSPACE_FILE}: not found in {root}: it lists the code locations "
                               "(docs/adding-a-location.md)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{WORKSPACE_FILE}: not valid TOML: {exc}") from None
    if data.get("directory_type") != "workspace":
        raise DeclarationError(f'{WORKSPACE_FILE}: directory_type must be "workspace" (a dg workspace), '
                               f"got {data.get('directory_type')!r}")
    projects = (data.get("workspace") or {}).get("projects", [])
    if not isinstance(projects, list):
        raise DeclarationError(f"{WORKSPACE_FILE}: workspace.projects must be a list of "
                               "[[workspace.projects]] tables")
    lines = text.splitlines()
    entries: list[Entry] = []
    seen: dict[str, Entry] = {}
    after = 0
    for index, project in enumerate(projects):
        rel = project.get("path") if isinstance(project, dict) else None
        if not isinstance(rel, str):
            line = _line_of(lines, ("[[workspace.projects]]", "path"), after)
            raise DeclarationError(f"{WORKSPACE_FILE}:{line}: workspace.projects[{index}] has no path = "
                                   f'"{LOCATIONS_DIR}/<name>"')
        line = _line_of(lines, (f'"{rel}"', f"'{rel}'"), after)
        after = line
        parts = rel.strip("/").split("/")
        entry = Entry(name=parts[-1], path=rel, index=index, line=line)
        if len(parts) != 2 or parts[0] != LOCATIONS_DIR:
            raise DeclarationError(f"{entry.where}: a location lives in {LOCATIONS_DIR}/<name>")
        if not NAME_RE.fullmatch(entry.name):
            raise DeclarationError(f"{entry.where}: {entry.name!r} is not a valid location name "
                                   f"({NAME_RE.pattern})")
        if entry.name in seen:
            raise DeclarationError(f"{entry.where}: listed twice (first at line {seen[entry.name].line})")
        seen[entry.name] = entry
        entries.append(entry)
    return entries


def folders(root: Path) -> list[str]:
    """Names of the folders code_locations/<name>/ that hold a pyproject.toml."""
    return sorted(p.parent.name for p in (root / LOCATIONS_DIR).glob("*/pyproject.toml")
                  if not p.parent.name.startswith("."))


def entries(root: Path) -> list[Entry]:
    """dg.toml's entries, each with its folder, and no folder left out."""
    found = listed(root)
    for entry in found:
        if not (root / entry.path / "pyproject.toml").is_file():
            what = "has no pyproject.toml" if (root / entry.path).is_dir() else "no such folder"
            raise DeclarationError(f"{entry.where}: {what}: create it (make new-location NAME={entry.name}) "
                                   "or remove the entry")
    unlisted = [name for name in folders(root) if name not in {e.name for e in found}]
    if unlisted:
        name = unlisted[0]
        raise DeclarationError(
            f"{LOCATIONS_DIR}/{name}: a location folder that {WORKSPACE_FILE} does not list: add\n"
            f'  [[workspace.projects]]\n  path = "{LOCATIONS_DIR}/{name}"\n'
            f"to {WORKSPACE_FILE}, or remove the folder" + (f" (also unlisted: {', '.join(unlisted[1:])})"
                                                              if unlisted[1:] else ""))
    return found


def names(root: Path) -> list[str]:
    """The locations, in dg.toml's order (folders checked, declarations not read)."""
    return [entry.name for entry in entries(root)]


def _environment(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise DeclarationError(f"{where}: expected a table of NAME = \"value\", got {value!r}")
    out = []
    for name, setting in value.items():
        if not ENV_NAME_RE.fullmatch(name):
            raise DeclarationError(f"{where}: {name!r} is not an environment variable name "
                                   f"({ENV_NAME_RE.pattern})")
        if SECRET_NAME_RE.search(name):
            raise DeclarationError(f"{where}: {name!r} looks like a secret; compose files hold none "
                                   "(credentials come from the location's volume: docs/security.md)")
        if not isinstance(setting, str):
            raise DeclarationError(f"{where}: {name} must be a string, got {setting!r}")
        out.append((name, setting))
    return tuple(out)


def load(project: Path, name: str | None = None) -> Location:
    """One location from its folder (code_locations/<name>; `name` when it is staged elsewhere)."""
    name = name or project.name
    path = project / "pyproject.toml"
    rel = f"{LOCATIONS_DIR}/{name}/pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DeclarationError(f"{rel}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{rel}: not valid TOML: {exc}") from None
    if not NAME_RE.fullmatch(name):
        raise DeclarationError(f"{rel}: the folder name {name!r} is not a valid location name ({NAME_RE.pattern})")
    tool = data.get("tool") or {}
    module = (tool.get("dagster") or {}).get("module_name")
    if module != f"{name}.definitions":
        raise DeclarationError(f"{rel}: [tool.dagster] module_name must be {name}.definitions, got {module!r}")
    dg_project = ((tool.get("dg") or {}).get("project") or {})
    if (tool.get("dg") or {}).get("directory_type") != "project" or dg_project.get("root_module") != name:
        raise DeclarationError(f'{rel}: [tool.dg] directory_type = "project" and [tool.dg.project] root_module = '
                               f'"{name}" are required, so dg check defs, dg list defs and dg dev work there')
    declared = tool.get("dagster-platform")
    if not isinstance(declared, dict):
        raise DeclarationError(f"{rel}: no [tool.dagster-platform] table: declare the location's grants "
                               "(docs/security.md, 'What a location may touch')")
    unknown = set(declared) - PLATFORM_KEYS
    if unknown:
        raise DeclarationError(f"{rel}: [tool.dagster-platform] has unknown keys {sorted(unknown)}")
    warehouse = declared.get("warehouse") or {}
    store = declared.get("object-store") or {}
    compose = declared.get("compose") or {}
    for table, allowed, value in (("warehouse", {"writes", "reads"}, warehouse),
                                  ("object-store", {"reads", "writes"}, store),
                                  ("compose", {"environment"}, compose)):
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
        owners=_names(declared.get("owners", []), f"{rel}: tool.dagster-platform.owners", OWNER_RE),
        compose_environment=_environment(compose.get("environment", {}),
                                         f"{rel}: tool.dagster-platform.compose.environment"),
    )


def discover(root: Path) -> list[Location]:
    """Every location dg.toml lists, in its order, with their declarations checked together."""
    locations = [load(root / entry.path) for entry in entries(root)]
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
