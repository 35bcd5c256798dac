"""Everything that lists the code locations, generated from dg.toml.

    platformctl generate            rewrite what is stale
    platformctl generate --check    exit 1 naming each stale file (make test runs it)

Each consumer is generated or checked, whichever keeps its owner's edits:

- workspace.yaml: generated whole. The platform image bakes it, so it stays a
  committed file.
- .generated/compose.locations.yaml (git-ignored): each location's compose
  service, its credentials volume and the webserver's and daemon's
  `depends_on`, written by make before every compose command and passed with
  -f after docker/compose.yaml. It copies the anchors it uses (x-code-location,
  x-platform-env, ...) from docker/compose.yaml, so the service shape stays in
  one place; a location adds plain settings in its pyproject.toml
  ([tool.dagster-platform.compose] environment).
- helm/dagster-platform/values.yaml: its codeLocations list is regenerated in
  place (name, host, port; grant keys follow each location's declaration when
  the list carries them); every other key of an entry is kept as written.
- helm/values/<name>.yaml: written from the template when missing, never
  overwritten (operators tune it); one without a location is reported.
- bench/compose.reference.yaml: its `<name>: *reference-code-server` lines.
- .github/CODEOWNERS: the block between its BEGIN/END lines, from each
  location's `owners`.
- README.md: the location table keeps its rows (a team writes its own), gains
  a placeholder row for a new location and loses the rows of removed ones.

The CI matrix and the Makefile's LOCATIONS read dg.toml when they run
(changed_locations, `platformctl locations`), so they have nothing to generate.
Text is edited line by line, so comments and anchors stay as they are.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from platformctl import locations as locs
from platformctl import repo
from platformctl.locations import LANDING, Location

TEMPLATES = Path(__file__).resolve().parent / "templates" / "location"
WORKSPACE = "workspace.yaml"
COMPOSE = "docker/compose.yaml"
COMPOSE_LOCATIONS = ".generated/compose.locations.yaml"
PLATFORM_VALUES = "helm/dagster-platform/values.yaml"
LOCATION_VALUES = "helm/values"
BENCH_REFERENCE = "bench/compose.reference.yaml"
CODEOWNERS = ".github/CODEOWNERS"
README = "README.md"
GRPC_PORT = 4000
# The anchors of docker/compose.yaml a generated location service uses.
SERVICE_ANCHORS = ("code-location", "platform-env")
RUN_LAUNCHERS = ("webserver", "daemon")
README_TABLE = re.compile(r"^\| location \| owns \| what drives it \|\s*$")
CODEOWNERS_BEGIN = "# BEGIN code locations"
CODEOWNERS_END = "# END code locations"
HEADER = "Generated from dg.toml by `python3 -m platformctl generate` (make generate): do not edit."


class Failed(Exception):
    """A file is not shaped as the generator expects; the message names it."""


def read(root: Path, rel: str) -> str:
    path = root / rel
    if not path.is_file():
        raise Failed(f"{rel}: not found (is {root} the platform repository?)")
    return path.read_text()


def dash(name: str) -> str:
    """A Kubernetes name: DNS labels take no underscores."""
    return name.replace("_", "-")


def render(text: str, name: str, **extra: str) -> str:
    text = text.replace("{{name}}", name).replace("{{dash_name}}", dash(name))
    for key, value in extra.items():
        text = text.replace("{{" + key + "}}", value)
    return text


# ------------------------------------------------------------- workspace.yaml


def workspace_yaml(found: list[Location]) -> str:
    lines = [f"# {HEADER}",
             "# One gRPC code server per code location (its compose service, same name); each",
             "# team deploys its own. The platform image bakes this file.",
             "load_from:"]
    for loc in found:
        lines += ["  - grpc_server:", f"      host: {loc.name}", f"      port: {GRPC_PORT}",
                  f"      location_name: {loc.name}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- compose


def top_level_blocks(text: str) -> list[tuple[str, str | None, str]]:
    """(key, anchor, text) of each top-level key of a YAML file, trailing comments dropped."""
    blocks: list[tuple[str, str | None, list[str]]] = []
    for line in text.splitlines():
        header = re.match(r"^([A-Za-z0-9_.-]+):(?:\s*&([A-Za-z0-9_-]+))?", line)
        if header:
            blocks.append((header.group(1), header.group(2), [line]))
        elif blocks:
            blocks[-1][2].append(line)
    out = []
    for key, anchor, lines in blocks:
        while lines and (not lines[-1].strip() or lines[-1].startswith("#")):
            lines.pop()
        out.append((key, anchor, "\n".join(lines)))
    return out


def shared_anchors(compose_text: str) -> list[str]:
    """The blocks of docker/compose.yaml defining SERVICE_ANCHORS and what they refer to, in file order."""
    blocks = [b for b in top_level_blocks(compose_text) if b[0].startswith("x-") and b[1]]
    by_anchor = {anchor: text for _, anchor, text in blocks}
    needed: set[str] = set()
    todo = list(SERVICE_ANCHORS)
    while todo:
        anchor = todo.pop(0)
        if anchor in needed:
            continue
        if anchor not in by_anchor:
            raise Failed(f"{COMPOSE}: no top-level x- block defines &{anchor}; the generated location "
                         f"services ({COMPOSE_LOCATIONS}) use it")
        needed.add(anchor)
        todo += re.findall(r"\*([A-Za-z0-9_-]+)", by_anchor[anchor])
    return [text for _, anchor, text in blocks if anchor in needed]


def container_context(name: str) -> str:
    """What each run container of the location gets: its label and its credentials volume."""
    return json.dumps({"docker": {"container_kwargs": {
        "labels": {"dagster-platform/location": name},
        "volumes": [f"${{PROJECT:-dagster-platform}}_secrets-{name}:/run/secrets/platform:ro"]}}})


def compose_locations(compose_text: str, found: list[Location]) -> str:
    """The compose file that adds the locations to docker/compose.yaml (passed after it with -f)."""
    out = [f"# {HEADER}",
           f"# make writes it before every compose command (-f {COMPOSE} -f {COMPOSE_LOCATIONS}).",
           f"# The anchors below are copied from {COMPOSE}, which owns them.", ""]
    out += [block + "\n" for block in shared_anchors(compose_text)]
    out.append("services:")
    out.append("  # One gRPC code server per location, each from its own image. Its")
    out.append("  # DAGSTER_CONTAINER_CONTEXT gives each run container its label and the")
    out.append("  # location's credentials volume, and nothing else.")
    for loc in found:
        out += [f"  {loc.name}:",
                "    <<: *code-location",
                f"    image: ${{REGISTRY:-localhost}}/dagster-platform/{loc.name}:"
                f"${{{loc.env_prefix}_TAG:?run through make, which sets the image tags}}",
                "    environment:",
                "      <<: *platform-env"]
        out += [f"      {key}: {json.dumps(value)}" for key, value in loc.compose_environment]
        out += [f"      DAGSTER_CONTAINER_CONTEXT: '{container_context(loc.name)}'",
                "    volumes:",
                f"      - secrets-{loc.name}:/run/secrets/platform:ro"]
    out.append("  # The webserver and daemon start once every code server is healthy.")
    for service in RUN_LAUNCHERS:
        out += [f"  {service}:", "    depends_on:"]
        out += [f"      {loc.name}: {{condition: service_healthy}}" for loc in found]
    out += ["", "volumes:", "  # Each location's credentials (platformctl sync), as in docker/compose.yaml."]
    out += [f'  secrets-{loc.name}: {{external: true, name: "${{PROJECT:-dagster-platform}}_secrets-{loc.name}"}}'
            for loc in found]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- helm


def _block(lines: list[str], start: int) -> int:
    """Index after the last line of the indented block under the top-level key at `start`."""
    end = start + 1
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line[0].isspace():
            break
        if line.strip():
            end = i + 1
    return end


def _flow(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(values) + "]"


def _grant_lines(loc: Location, pad: str) -> dict[str, list[str]]:
    store = f"reads: {_flow(loc.bucket_reads)}" + (f", writes: {_flow(loc.bucket_writes)}" if loc.bucket_writes else "")
    return {
        "credentialsSecret": [f'{pad}credentialsSecret: ""'],
        "warehouse": [f"{pad}warehouse: {{writes: {_flow(loc.warehouse_writes)}, "
                      f"reads: {_flow(loc.warehouse_reads)}}}"],
        "objectStore": [f"{pad}objectStore: {{{store}}}"],
    }


def _entries(lines: list[str]) -> tuple[str, list[str], list[dict[str, list[str]]]]:
    """(item indent, comment lines before the first item, [{key: its lines}]) of a block list of mappings."""
    pad, leading, entries = None, [], []
    for line in lines:
        item = re.match(r"^(\s*)- ", line)
        if item and (pad is None or item.group(1) == pad):
            pad = item.group(1)
            entries.append({})
        if not entries:
            if line.strip() and not line.strip().startswith("#"):
                raise Failed(f"{PLATFORM_VALUES}: codeLocations is not a block list of mappings")
            leading.append(line)
            continue
        key = re.match(r"^\s*(?:- )?([A-Za-z][\w-]*):", line)
        if key and len(line) - len(line.lstrip(" -")) == len(pad) + 2:
            entries[-1][key.group(1)] = [line]
        elif entries[-1]:
            list(entries[-1].values())[-1].append(line)
        elif line.strip():
            raise Failed(f"{PLATFORM_VALUES}: codeLocations entry {line.strip()!r} is not a block mapping")
    return pad or "  ", leading, entries


def platform_values(text: str, found: list[Location]) -> str:
    """The platform chart's default codeLocations: one entry per location, in dg.toml's order.

    name, host and port are derived; so are an entry's grant keys (warehouse,
    objectStore) when it has them. Any other key is kept as written. A new
    entry takes the grant keys the list's first entry has."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^codeLocations:", line)), None)
    if start is None or not re.match(r"^codeLocations:\s*(#.*)?$", lines[start]):
        raise Failed(f"{PLATFORM_VALUES}: no block-style `codeLocations:` list to regenerate")
    end = _block(lines, start)
    pad, block, entries = _entries(lines[start + 1:end])
    by_name = {entry["name"][0].split(":", 1)[1].strip().strip("'\""): entry for entry in entries if "name" in entry}
    fixed = {"name", "host", "port"}
    shape = [key for key in (entries[0] if entries else {}) if key not in fixed]
    inner = pad + "  "
    for loc in found:
        old = by_name.get(loc.name)
        derived = _grant_lines(loc, inner)
        block += [f"{pad}- name: {loc.name}", f"{inner}host: dagster-code-{dash(loc.name)}", f"{inner}port: {GRPC_PORT}"]
        if old is None:
            block += [line for key in shape if key in derived for line in derived[key]]
            continue
        for key in (k for k in old if k not in fixed):
            block += derived[key] if key in ("warehouse", "objectStore") else old[key]
    return "\n".join(lines[:start + 1] + block + lines[end:]) + ("\n" if text.endswith("\n") else "")


def location_values(name: str) -> str:
    return render((TEMPLATES / "helm-values.yaml.tmpl").read_text(), name)


# --------------------------------------------------------------------- bench


def bench_reference(text: str, found: list[Location]) -> str:
    """make bench's reference profile runs every code server with Dagster's own settings."""
    lines = text.splitlines()
    pattern = re.compile(r"^  [a-z][a-z0-9_]*: \*reference-code-server\s*$")
    at = [i for i, line in enumerate(lines) if pattern.match(line)]
    if not at:
        raise Failed(f"{BENCH_REFERENCE}: no `<location>: *reference-code-server` service to regenerate")
    kept = [line for i, line in enumerate(lines) if i not in set(at)]
    new = [f"  {loc.name}: *reference-code-server" for loc in found]
    return "\n".join(kept[:at[0]] + new + kept[at[0]:]) + "\n"


# ------------------------------------------------------ CODEOWNERS, README


def codeowners(text: str, found: list[Location]) -> str:
    lines = text.splitlines()
    try:
        begin = next(i for i, line in enumerate(lines) if line.startswith(CODEOWNERS_BEGIN))
        end = next(i for i, line in enumerate(lines) if line.startswith(CODEOWNERS_END) and i > begin)
    except StopIteration:
        raise Failed(f"{CODEOWNERS}: no `{CODEOWNERS_BEGIN}` ... `{CODEOWNERS_END}` block to regenerate") from None
    width = max((len(loc.name) for loc in found), default=0) + len("/code_locations//") + 1
    block = [f"{f'/code_locations/{loc.name}/':<{width}} {' '.join(loc.owners)}" for loc in found if loc.owners]
    return "\n".join(lines[:begin + 1] + block + lines[end:]) + "\n"


def readme_row(name: str) -> str:
    return (f"| `{name}` | `{name}/example`, a scaffolded example table (warehouse schema `{name}`); "
            f"replace it with the team's assets | `{name}_hello_job`: a probe that needs no config |")


def readme(text: str, found: list[Location]) -> str:
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if README_TABLE.match(line)), None)
    if header is None:
        raise Failed(f"{README}: no location table (`| location | owns | what drives it |`)")
    end = header + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    rows = {}
    for line in lines[header + 2:end]:
        row = re.match(r"^\| `([a-z][a-z0-9_]*)` \|", line)
        if not row:
            raise Failed(f"{README}: a location table row does not start with | `<location>` |: {line[:60]}")
        rows[row.group(1)] = line
    block = [rows.get(loc.name) or readme_row(loc.name) for loc in found]
    return "\n".join(lines[:header + 2] + block + lines[end:]) + ("\n" if text.endswith("\n") else "")


# ------------------------------------------------------------------- running


EDITS = {
    PLATFORM_VALUES: platform_values,
    BENCH_REFERENCE: bench_reference,
    CODEOWNERS: codeowners,
    README: readme,
}


def plan(root: Path, found: list[Location] | None = None) -> tuple[dict[str, str], list[str]]:
    """({path: the text it should hold}, problems no rewrite can fix)."""
    found = locs.discover(root) if found is None else found
    wanted = {WORKSPACE: workspace_yaml(found)}
    for rel, edit in EDITS.items():
        wanted[rel] = edit(read(root, rel), found)
    names = {loc.name for loc in found}
    for loc in found:
        rel = f"{LOCATION_VALUES}/{loc.name}.yaml"
        if not (root / rel).exists():
            wanted[rel] = location_values(loc.name)
    problems = [f"{LOCATION_VALUES}/{p.name}: {p.stem!r} is not a location in dg.toml: delete the file"
                for p in sorted((root / LOCATION_VALUES).glob("*.yaml")) if p.stem not in names]
    return wanted, problems


def stale(root: Path, wanted: dict[str, str]) -> list[str]:
    return [rel for rel, text in wanted.items()
            if not (root / rel).is_file() or (root / rel).read_text() != text]


def write_compose(root: Path, found: list[Location] | None = None) -> Path:
    """The git-ignored compose file of the locations, rewritten only when it changes."""
    found = locs.discover(root) if found is None else found
    path = root / COMPOSE_LOCATIONS
    text = compose_locations(read(root, COMPOSE), found)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def main(argv: list[str]) -> int:
    unknown = set(argv) - {"--check", "compose"}
    if unknown:
        print(f"platformctl generate: unknown arguments {sorted(unknown)} (use --check, or compose)", file=sys.stderr)
        return 2
    root = repo.root()
    try:
        found = locs.discover(root)
        if "compose" in argv:
            write_compose(root, found)
            return 0
        wanted, problems = plan(root, found)
    except Failed as exc:
        print(f"platformctl generate: {exc}", file=sys.stderr)
        return 1
    check = "--check" in argv
    changed = stale(root, wanted)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if check:
        for rel in changed:
            print(f"error: {rel} is stale: run `make generate` (python3 -m platformctl generate)", file=sys.stderr)
        return 1 if changed or problems else 0
    for rel in changed:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.generate.tmp")
        tmp.write_text(wanted[rel])
        tmp.replace(path)
        print(f"wrote {rel}")
    write_compose(root, found)
    return 1 if problems else 0
