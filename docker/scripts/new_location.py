"""`make new-location NAME=<name>`: scaffold a code location and wire it in everywhere.

    new_location.py NAME [--root ROOT]

Creates code_locations/NAME (pyproject.toml with its grants: it writes schema
NAME; uv.lock, src/NAME/definitions.py, an example asset and a
`NAME_hello_job`, tests) and helm/values/NAME.yaml from
docker/templates/location/, and adds NAME to the Makefile's LOCATIONS, to
docker/compose.yaml (a service like ingest's, its credentials volume, and the
webserver/daemon `depends_on`), to .env.example (its secrets, generated on the
next `make up`), to workspace.yaml, to the platform chart's default
codeLocations and to the README's location table.

All-or-nothing: every edit is computed and the new project locked (`uv lock`)
before any file of the repository changes; a failure while writing puts back
what was written. YAML files are edited as text, so comments and anchors stay.

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
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "location"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Compose services and image names of the platform itself, and the packages
# every location imports (a location module of that name would shadow them).
RESERVED = {
    "postgres", "s3", "init", "webserver", "daemon", "platform",
    "dagster", "platform_common", "platform_services", "pandas",
}
# The location whose uv.lock seeds the new one: it locks every package the
# template asks for, so `uv lock` keeps every version the other locations run.
SEED_LOCK_FROM = "ingest"


class Refused(Exception):
    """The name cannot be used: exit status 2, nothing changed."""


class Failed(Exception):
    """Something in the repository is not where the scaffolder expects it: exit 1."""


# ----------------------------------------------------------------- reading


def read(root: Path, rel: str) -> str:
    path = root / rel
    if not path.is_file():
        raise Failed(f"{rel}: not found (is {root} the platform repository?)")
    return path.read_text()


def compose_services(text: str) -> list[str]:
    """Service names under `services:` (two-space keys), in file order."""
    match = re.search(r"^services:\s*$", text, re.M)
    if not match:
        raise Failed("docker/compose.yaml: no top-level `services:` key")
    names = []
    for line in text[match.end():].splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            break  # the next top-level key (volumes:, networks:)
        key = re.match(r"^  ([A-Za-z0-9_.-]+):\s*$", line)
        if key:
            names.append(key.group(1))
    return names


def workspace_names(text: str) -> set[str]:
    return set(re.findall(r"^\s+(?:location_name|host):\s*['\"]?([^'\"\s#]+)", text, re.M))


def makefile_locations(text: str) -> list[str]:
    match = re.search(r"^LOCATIONS := (.+)$", text, re.M)
    if not match:
        raise Failed("Makefile: no `LOCATIONS := ...` line")
    return match.group(1).split()


def check_name(root: Path, name: str) -> None:
    if not name:
        raise Refused("NAME is required: make new-location NAME=<name> (e.g. NAME=billing)")
    if not NAME_RE.fullmatch(name):
        raise Refused(
            f"{name!r} is not a valid location name: use lowercase letters, digits and "
            "underscores, starting with a letter (^[a-z][a-z0-9_]*$; no dashes or uppercase), "
            "so it is a Python package name, a compose service and an env var prefix"
        )
    if keyword.iskeyword(name):
        raise Refused(f"{name!r} is a Python keyword and cannot be a package name")
    if name in RESERVED:
        raise Refused(
            f"{name!r} is reserved: it is a platform service or image, or a package every location "
            f"imports ({', '.join(sorted(RESERVED))})"
        )
    where = []
    if (root / "code_locations" / name).exists():
        where.append(f"code_locations/{name}")
    if name in compose_services(read(root, "docker/compose.yaml")):
        where.append("a service in docker/compose.yaml")
    if name in workspace_names(read(root, "workspace.yaml")):
        where.append("an entry in workspace.yaml")
    if name in makefile_locations(read(root, "Makefile")):
        where.append("the Makefile's LOCATIONS")
    if (root / "helm" / "values" / f"{name}.yaml").exists():
        where.append(f"helm/values/{name}.yaml")
    if where:
        raise Refused(f"location {name!r} already exists: {'; '.join(where)}")


# ----------------------------------------------------------------- editing


def lines_of(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def find_line(lines: list[str], pattern: str | re.Pattern, missing: str) -> int:
    """Index of the first line matching `pattern`, or Failed(`missing`)."""
    found = next((i for i, line in enumerate(lines) if re.match(pattern, line)), None)
    if found is None:
        raise Failed(missing)
    return found


def insert_after(lines: list[str], index: int, new: list[str]) -> str:
    if not lines[index].endswith("\n"):
        lines[index] += "\n"
    return "".join(lines[: index + 1] + new + lines[index + 1:])


def edit_makefile(text: str, name: str) -> str:
    makefile_locations(text)  # fails clearly if the line is missing
    return re.sub(r"^(LOCATIONS := .+?)[ \t]*$", lambda m: f"{m.group(1)} {name}", text, count=1, flags=re.M)


def block_end(lines: list[str], start: int, indent: int) -> int:
    """Index of the last non-blank line of the block whose header is lines[start]."""
    last = start
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip(" ")) <= indent:
            break
        last = i
    return last


def edit_compose(text: str, name: str) -> str:
    lines = lines_of(text)
    # 1. webserver/daemon wait for the new code server (the x-run-launching anchor).
    anchor = find_line(lines, r"^x-run-launching:", "docker/compose.yaml: no `x-run-launching:` block")
    end = block_end(lines, anchor, 0)
    healthy = [i for i in range(anchor, end + 1)
               if re.match(r"^    [a-z][a-z0-9_]*: \{condition: service_healthy\}\s*$", lines[i])]
    if not healthy:
        raise Failed("docker/compose.yaml: x-run-launching has no `<location>: {condition: service_healthy}` "
                      "under depends_on")
    text = insert_after(lines, healthy[-1], [f"    {name}: {{condition: service_healthy}}\n"])

    # 2. the service, after the last location service (one with DAGSTER_CONTAINER_CONTEXT).
    lines = lines_of(text)
    services_at = find_line(lines, r"^services:\s*$", "docker/compose.yaml: no top-level `services:` block")
    last_location_end = None
    i = services_at + 1
    while i < len(lines):
        line = lines[i]
        if line.strip() and not line[0].isspace() and not line.startswith("#"):
            break
        if re.match(r"^  [A-Za-z0-9_.-]+:\s*$", line):
            end = block_end(lines, i, 2)
            if any("DAGSTER_CONTAINER_CONTEXT" in l for l in lines[i:end + 1]):
                last_location_end = end
            i = end + 1
            continue
        i += 1
    if last_location_end is None:
        raise Failed("docker/compose.yaml: no code-location service (one with DAGSTER_CONTAINER_CONTEXT) to follow")
    context = ('{"docker": {"container_kwargs": {"labels": {"dagster-platform/location": "%s"}, '
               '"volumes": ["${PROJECT:-dagster-platform}_secrets-%s:/run/secrets/platform:ro"]}}}' % (name, name))
    service = [
        "\n",
        f"  {name}:\n",
        "    <<: *code-location\n",
        f"    image: ${{REGISTRY:-localhost}}/dagster-platform/{name}:"
        f"${{{name.upper()}_TAG:?run through make, which sets the image tags}}\n",
        "    environment:\n",
        "      <<: *platform-env\n",
        f"      DAGSTER_CONTAINER_CONTEXT: '{context}'\n",
        "    volumes:\n",
        f"      - secrets-{name}:/run/secrets/platform:ro\n",
    ]
    text = insert_after(lines, last_location_end, service)

    # 3. its credentials volume, after the last one declared.
    lines = lines_of(text)
    volumes = [i for i, line in enumerate(lines) if re.match(r"^  secrets-[a-z][a-z0-9_]*: \{external: true", line)]
    if not volumes:
        raise Failed("docker/compose.yaml: no `secrets-<principal>: {external: true, ...}` volume to follow")
    volume = (f'  secrets-{name}: {{external: true, name: "${{PROJECT:-dagster-platform}}_secrets-{name}"}}\n')
    return insert_after(lines, volumes[-1], [volume])


# A location's secrets in .env, after its name in capitals (platformctl.principals).
SECRETS = ("PG_PASSWORD", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")


def edit_env_example(text: str, name: str) -> str:
    """The new location's secrets, after the last location's (make up generates them)."""
    lines = lines_of(text)
    last = [i for i, line in enumerate(lines) if re.match(rf"^[A-Z][A-Z0-9_]*_{SECRETS[-1]}=\s*$", line)]
    if not last:
        raise Failed(f".env.example: no `<LOCATION>_{SECRETS[-1]}=` line to follow")
    return insert_after(lines, last[-1], [f"{name.upper()}_{secret}=\n" for secret in SECRETS])


def edit_workspace(text: str, name: str) -> str:
    lines = lines_of(text)
    start = find_line(lines, r"^load_from:\s*$", "workspace.yaml: no top-level `load_from:` list")
    end = block_end(lines, start, 0)
    entry = [
        "  - grpc_server:\n",
        f"      host: {name}\n",
        "      port: 4000\n",
        f"      location_name: {name}\n",
    ]
    return insert_after(lines, end, entry)


def edit_platform_values(text: str, name: str) -> str:
    lines = lines_of(text)
    start = find_line(lines, r"^codeLocations:\s*$",
                      "helm/dagster-platform/values.yaml: no block-style `codeLocations:` list")
    end = block_end(lines, start, 0)
    # A block sequence may sit at column 0 or indented under the key.
    if end == start:
        raise Failed("helm/dagster-platform/values.yaml: codeLocations is empty or inline")
    item = re.match(r"^(\s*)- ", lines[start + 1])
    if not item:
        raise Failed("helm/dagster-platform/values.yaml: codeLocations is not a block list")
    pad = item.group(1)
    # The grants the scaffolded pyproject.toml declares (tests/helm checks they agree).
    entry = [
        f"{pad}- name: {name}\n",
        f"{pad}  host: dagster-code-{name.replace('_', '-')}\n",
        f"{pad}  port: 4000\n",
        f'{pad}  credentialsSecret: ""\n',
        f"{pad}  warehouse: {{writes: [{name}], reads: []}}\n",
        f"{pad}  objectStore: {{reads: []}}\n",
    ]
    return insert_after(lines, end, entry)


def edit_bench_reference(text: str, name: str) -> str:
    """make bench's reference profile runs every code server with Dagster's own settings."""
    lines = lines_of(text)
    services = [i for i, line in enumerate(lines) if re.match(r"^  [a-z][a-z0-9_]*: \*reference-code-server\s*$", line)]
    if not services:
        raise Failed("bench/compose.reference.yaml: no `<location>: *reference-code-server` service")
    return insert_after(lines, services[-1], [f"  {name}: *reference-code-server\n"])


README_TABLE = re.compile(r"^\| location \| owns \| what drives it \|\s*$")


def edit_readme(text: str, name: str) -> str:
    lines = lines_of(text)
    header = find_line(lines, README_TABLE, "README.md: no location table (`| location | owns | what drives it |`)")
    last = header
    while last + 1 < len(lines) and lines[last + 1].startswith("|"):
        last += 1
    row = (f"| `{name}` | `{name}/example`, a scaffolded example table (warehouse schema `{name}`); "
           f"replace it with the team's assets | `{name}_hello_job`: a probe that needs no config |\n")
    return insert_after(lines, last, [row])


# ------------------------------------------------------------- new files


def render(text: str, name: str) -> str:
    return text.replace("{{name}}", name).replace("{{dash_name}}", name.replace("_", "-"))


def render_project(dest: Path, name: str) -> None:
    for src in sorted(TEMPLATES.rglob("*.tmpl")):
        rel = src.relative_to(TEMPLATES)
        if rel.as_posix() == "helm-values.yaml.tmpl":
            continue
        out = dest / Path(*(name if part == "__name__" else part for part in rel.parts)).with_suffix("")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(src.read_text(), name))


def lock(project: Path, seed: Path | None) -> None:
    """`uv lock` the new project, seeded with a sibling's lock so versions match."""
    if seed is not None and seed.is_file():
        shutil.copyfile(seed, project / "uv.lock")
    uv = os.environ.get("UV", "uv")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}}
    try:
        proc = subprocess.run([uv, "lock", "--no-progress"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Failed(f"`uv lock` could not run: {exc}") from None
    if proc.returncode != 0:
        raise Failed(f"`uv lock` failed in the new project:\n{proc.stderr.strip()}")


# -------------------------------------------------------------- applying


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


EDITS = {
    "Makefile": edit_makefile,
    ".env.example": edit_env_example,
    "docker/compose.yaml": edit_compose,
    "workspace.yaml": edit_workspace,
    "helm/dagster-platform/values.yaml": edit_platform_values,
    "README.md": edit_readme,
    "bench/compose.reference.yaml": edit_bench_reference,
}


def scaffold(root: Path, name: str, *, run_lock: bool = True) -> list[str]:
    check_name(root, name)
    # Every edit first, in memory: a file that is not shaped as expected stops us here.
    edits = {rel: fn(read(root, rel), name) for rel, fn in EDITS.items()}
    helm_values = render((TEMPLATES / "helm-values.yaml.tmpl").read_text(), name)

    locations_dir = root / "code_locations"
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.new-location-", dir=locations_dir))
    tx = Transaction(root)
    try:
        render_project(staging, name)
        if run_lock:
            lock(staging, locations_dir / SEED_LOCK_FROM / "uv.lock")
        tx.move_dir(staging, f"code_locations/{name}")
        tx.write(f"helm/values/{name}.yaml", helm_values)
        for rel, text in edits.items():
            tx.write(rel, text)
    except BaseException:
        tx.undo()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [f"code_locations/{name}/", f"helm/values/{name}.yaml", *edits]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="")
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--no-lock", action="store_true", help=argparse.SUPPRESS)  # tests of the wiring only
    args = parser.parse_args(argv)
    name = args.name.strip()
    # A stop request (make interrupted, CI cancelled) unwinds like a failure: nothing half-written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        changed = scaffold(args.root.resolve(), name, run_lock=not args.no_lock)
    except Refused as exc:
        print(f"new-location: refused: {exc}. Nothing was changed.", file=sys.stderr)
        return 2
    except Failed as exc:
        print(f"new-location: failed: {exc}\nNothing was changed.", file=sys.stderr)
        return 1
    print(f"new location {name!r}: wrote and wired")
    for rel in changed:
        print(f"  {rel}")
    print(
        f"next: (cd code_locations/{name} && uv run --group dev pytest -q); make up "
        f"(or make build-location LOCATION={name}); see docs/adding-a-location.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
