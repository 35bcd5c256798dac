"""The docs name only what exists: every repository path, `make` target, platformctl command and
module of ours that README.md, docs/ and the other documented files mention. A rename or a removal
that leaves a doc behind fails here, naming the file and the stale reference.

tests/test_consistency.py checks the lists of locations; this checks the prose around them.
"""

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from platformctl import locations

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Comments and text meant for people, outside the Markdown docs.
OTHER_DOCS = [ROOT / ".env.example", ROOT / "bench/compose.reference.yaml", *sorted((ROOT / "helm").rglob("NOTES.txt")),
              *sorted((ROOT / "helm").rglob("README*"))]
DOCS = MARKDOWN + OTHER_DOCS

# Paths the docs name that a command or the reader creates; none is in a fresh checkout.
CREATED = {
    ".env",  # make .env / make up
    ".generated/compose.locations.yaml",  # make compose-locations, before every compose command
    ".deploy/state.json",  # make deploy / make build
    ".artifacts/faults.json",  # make e2e
    ".local_data/",  # make dev
    "bench/results.json", "bench/results.md",  # make bench
    "backups/",  # make backup
    "docker/compose.override.yaml",  # docs/security.md: one of the reader's own
}
# Files of installed packages, which the docs quote from Dagster's own sources.
INSTALLED = ("dagster/", "dagster_aws/")
# What is gone, named on purpose: (doc, reference) -> why.
HISTORY = {
    ("docs/helm-upgrade.md", "platform_services.storage"): "the 0.4.0 note names what a 0.3 instance loads",
    ("docs/helm-upgrade.md", "platform_services.run_coordinator"): "the same",
}
EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")
FENCE = re.compile(r"^ *(```|~~~).*?^ *\1", re.M | re.S)
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def code_texts(doc: Path, text: str | None = None) -> list[str]:
    """Where a doc writes commands, paths and names: in Markdown its code spans and fenced
    blocks; elsewhere (comments, NOTES.txt) all of it."""
    text = doc.read_text() if text is None else text
    if doc.suffix != ".md":
        return [text]
    return [m.group(0) for m in FENCE.finditer(text)] + CODE_SPAN.findall(FENCE.sub("", text))


def path_like(token: str) -> bool:
    if not token or "/" not in token or "://" in token or token.startswith(("/", "~", "$", "-")):
        return False  # not in the repository: absolute, home, a variable, an option
    if any(c in token for c in "<>{}*?=| \"'") or token.startswith(("http", "www.")):
        return False  # a placeholder, a glob, an assignment, a template
    return token.endswith("/") or bool(EXTENSION.search(token))


def repository_paths(doc: Path, text: str | None = None) -> list[tuple[str, Path]]:
    """(as written, where it should be) for each path in a code span or a link target."""
    text = doc.read_text() if text is None else text
    found = []
    spans = CODE_SPAN.findall(FENCE.sub("", text)) if doc.suffix == ".md" else [text]
    for span in spans:
        words = (re.sub(r"^[(\[`'\"]+|[)\]`'\".,;:]+$", "", w) for w in span.split())
        found += [(w, ROOT / w) for w in words if path_like(w)]
    if doc.suffix == ".md":
        for target in LINK_TARGET.findall(text):
            target = target.split("#", 1)[0]
            if target and "://" not in target and not target.startswith(("mailto:", "#", "/")):
                found.append((target, (doc.parent / target).resolve()))
    return found


def not_in_a_checkout(written: str) -> bool:
    """Paths a command creates, files of installed packages, and folders that are not the
    repository's (`landing/`, `archive/raw/landing/`: object-store prefixes)."""
    if written in CREATED or any(c.endswith("/") and written.startswith(c) for c in CREATED):
        return True
    if written.startswith(INSTALLED):
        return True
    top = written.split("/", 1)[0]
    return written.endswith("/") and top not in {"", ".", ".."} and not (ROOT / top).exists()


def missing_paths(doc: Path, text: str | None = None) -> list[str]:
    return sorted({written for written, path in repository_paths(doc, text)
                   if not path.exists() and not not_in_a_checkout(written)})


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_repository_path_a_doc_names_exists(doc):
    missing = missing_paths(doc)
    assert not missing, f"{rel(doc)} names paths that do not exist: {missing}"


def test_paths_are_told_apart_from_keys_placeholders_and_urls():
    text = """See `docs/gone.md`, [the ADR](adr/0009-gone.md#why), [ops](operations.md), `dagster.yaml`,
    `raw/customers`, `landing/`, `archive/raw/landing/`, `code_locations/<name>/uv.lock`, `.env`,
    `.generated/compose.locations.yaml`, `https://example.com/a.py`, `/usr/bin/chromium`,
    `libs/platform_services/src/platform_services/storage.py`, `helm/values/`, `docs/nowhere/`.

    ```sh
    cat docs/in-a-fence.md
    ```"""
    assert missing_paths(ROOT / "docs/example.md", text) == [
        "adr/0009-gone.md", "docs/gone.md", "docs/nowhere/", "libs/platform_services/src/platform_services/storage.py"]


NODE_ID = re.compile(r"^([\w./-]+\.py)::(\w+)")


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_test_a_doc_names_exists(doc):
    """`tests/x.py::test_y`: the file, and a test of that name in it."""
    named = {m.groups() for span in CODE_SPAN.findall(FENCE.sub("", doc.read_text()))
             if (m := NODE_ID.match(span))}
    missing = sorted(f"{path}::{name}" for path, name in named
                     if not (ROOT / path).is_file() or not re.search(rf"\bdef {name}\b", (ROOT / path).read_text()))
    assert not missing, f"{rel(doc)} names tests that do not exist: {missing}"


@functools.cache
def makefile_targets() -> frozenset[str]:
    makefile = (ROOT / "Makefile").read_text()
    targets = set()
    for line in makefile.splitlines():
        match = re.match(r"^([A-Za-z0-9_.][A-Za-z0-9_. -]*?)\s*:(?![=:])", line)
        if match and not line.startswith((".PHONY", "\t")):
            targets.update(match.group(1).split())
    return frozenset(targets)


MAKE_COMMAND = re.compile(r"(?:^|[\s;&|(`$])make[ \t]+([^\n;&|)`#]*)")


def make_targets_in(snippets: list[str]) -> set[str]:
    """The target of each `make ...` command, skipping options and VAR=value assignments."""
    targets = set()
    for snippet in snippets:
        for match in MAKE_COMMAND.finditer(snippet):
            try:
                words = shlex.split(match.group(1))
            except ValueError:  # a quote the span cut off: the words before it
                words = match.group(1).split()
            # The first target only: in prose (`make up` generates .env) the next word is not one.
            word = next((w for w in words if not w.startswith("-") and "=" not in w), "")
            if re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*", word):  # not a placeholder (`make <target>`)
                targets.add(word)
    return targets


def test_the_makefile_targets_are_read_as_make_reads_them():
    targets = makefile_targets()
    assert {"help", "up", "down", "test", "test-platform", "new-location", ".env"} <= targets
    assert not {"PLATFORMCTL", "LOCATIONS", "SHELL"} & targets  # variables, not targets
    assert make_targets_in(["make up", "AIRGAP=1 make e2e", "make deploy LOCATION=<name>",
                            'make bench BENCH_ARGS="--rounds 1 --sizes 5000000"', "make <target>"]) == \
        {"up", "e2e", "deploy", "bench"}


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_make_target_a_doc_names_is_in_the_makefile(doc):
    unknown = sorted(make_targets_in(code_texts(doc)) - makefile_targets())
    assert not unknown, f"{rel(doc)} names make targets the Makefile lacks: {unknown}"


@functools.cache
def platformctl_commands() -> frozenset[str]:
    """The CLI's own list, as argparse prints it for an unknown command."""
    result = subprocess.run([sys.executable, "-m", "platformctl", "no-such-command"], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "libs/platformctl/src"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2, result.stderr
    choices = re.search(r"invalid choice: .*?\(choose from (.*)\)", result.stderr)
    assert choices, result.stderr
    return frozenset(re.findall(r"[a-z][a-z-]*", choices.group(1)))


PLATFORMCTL_COMMAND = re.compile(r"(?<![\w.-])platformctl\s+([a-z][a-z-]*)")


def test_platformctl_lists_its_commands():
    commands = platformctl_commands()
    assert {"generate", "locations", "deploy", "new-location", "check-defs", "rotate"} <= commands
    written = "python3 -m platformctl generate --check; platformctl no-such; platformctl.generate; (`platformctl`)"
    assert [m.group(1) for m in PLATFORMCTL_COMMAND.finditer(written)] == ["generate", "no-such"]


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_platformctl_command_a_doc_names_exists(doc):
    named = {m.group(1) for snippet in code_texts(doc) for m in PLATFORMCTL_COMMAND.finditer(snippet)}
    unknown = sorted(named - platformctl_commands())
    assert not unknown, f"{rel(doc)} names platformctl commands its CLI lacks: {unknown}"


# Our Python packages, and where their sources are.
PACKAGES = {
    **{p.name: p for p in (ROOT / "libs").glob("*/src/*") if (p / "__init__.py").is_file()},
    **{name: ROOT / "code_locations" / name / "src" / name for name in locations.names(ROOT)},
}
FILE_SUFFIXES = {"py", "yaml", "yml", "toml", "md", "txt", "json", "lock", "sql", "tpl", "png", "csv", "parquet"}
DOTTED = re.compile(rf"(?<![\w./-])((?:{'|'.join(map(re.escape, PACKAGES))})(?:\.[A-Za-z_]\w*)+)")


def unresolved(dotted: str) -> str | None:
    """None when `pkg.module.name` is a module of ours or a name one defines; else what is missing."""
    parts = dotted.split(".")
    if parts[-1] in FILE_SUFFIXES:
        return None  # a file name (`reports.yaml`), not a module
    where = PACKAGES[parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        module = where / f"{part}.py"
        if (where / part / "__init__.py").is_file():
            where = where / part
        elif module.is_file():
            rest = parts[i + 1:]
            source = module.read_text()
            return None if not rest or re.search(rf"\b{re.escape(rest[0])}\b", source) else dotted
        else:
            init = (where / "__init__.py").read_text()
            return None if re.search(rf"\b{re.escape(part)}\b", init) else dotted
    return None


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_module_of_ours_a_doc_names_exists(doc):
    stale = sorted({d for d in DOTTED.findall(doc.read_text()) if unresolved(d) and (rel(doc), d) not in HISTORY})
    assert not stale, f"{rel(doc)} names modules or names of ours that do not exist: {stale}"


@pytest.mark.parametrize(("written", "exists"), [
    ("platform_services.run_launcher", True),
    ("platform_services.run_launcher.PlatformDockerRunLauncher", True),
    ("platform_common.sensor_interval_seconds", True),
    ("platformctl.generate", True),
    ("platform_services.storage", False),
    ("platform_services.run_launcher.LocationTaggingRunCoordinator", False),
    ("transform.STEP_ONLY_PACKAGES", False),
])
def test_module_references_resolve_as_python_would(written, exists):
    assert (unresolved(written) is None) == exists
