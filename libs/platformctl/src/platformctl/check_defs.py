"""`dg check defs` and `dg list defs` in each location, as its team runs them.

    platformctl check-defs [LOCATION...]     default: every location of dg.toml

Each location is a dg project (its pyproject's [tool.dg.project]) with
dagster-dg-cli in its dev group, so this runs `uv run --frozen --group dev dg
check defs` and `dg list defs --json` in its folder, in its own environment,
locally (DAGSTER_PLATFORM_ENV=local: DuckDB and folders under a scratch
directory) with a scratch DAGSTER_HOME whose telemetry is off. A location with
a prepare.sh (transform's `dbt parse`) runs it first, as the image build does.
It prints what each lists and exits 1 naming each location that fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from platformctl import locations, repo

KINDS = ("assets", "asset_checks", "jobs", "schedules", "sensors", "resources")


def uv_run(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    uv = os.environ.get("UV", "uv")
    return subprocess.run([uv, "run", "--frozen", "--group", "dev", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=900)


def check(project: Path, scratch: Path) -> tuple[str | None, dict[str, int]]:
    """(the error, or None; how many of each kind `dg list defs` lists)."""
    home = scratch / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
           and not k.startswith("DAGSTER_")}
    env.update(DAGSTER_HOME=str(home), DAGSTER_PLATFORM_ENV="local", DAGSTER_PLATFORM_LOCAL_DIR=str(scratch))
    if (project / "prepare.sh").is_file():
        done = uv_run(project, "sh", "prepare.sh", env=env)
        if done.returncode != 0:
            return f"prepare.sh failed:\n{(done.stdout + done.stderr)[-3000:]}", {}
    done = uv_run(project, "dg", "check", "defs", env=env)
    if done.returncode != 0 or "All definitions loaded successfully." not in done.stdout:
        return f"`dg check defs` failed:\n{(done.stdout + done.stderr)[-3000:]}", {}
    done = uv_run(project, "dg", "list", "defs", "--json", env=env)
    try:
        listed = json.loads(done.stdout) if done.returncode == 0 else None
    except json.JSONDecodeError:
        listed = None
    if not isinstance(listed, dict):
        return f"`dg list defs --json` failed:\n{(done.stdout + done.stderr)[-3000:]}", {}
    return None, {kind: len(listed.get(kind) or []) for kind in KINDS}


def main(argv: list[str]) -> int:
    root = repo.root()
    known = locations.names(root)
    unknown = [name for name in argv if name not in known]
    if unknown:
        print(f"platformctl check-defs: {', '.join(unknown)} not in dg.toml ({' '.join(known)})", file=sys.stderr)
        return 2
    failed = []
    for name in argv or known:
        with tempfile.TemporaryDirectory(prefix=f"check-defs-{name}-") as scratch:
            error, counts = check(root / locations.LOCATIONS_DIR / name, Path(scratch))
        if error:
            failed.append(name)
            print(f"{name}: {error}", file=sys.stderr)
            continue
        listed = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n)
        print(f"{name}: dg check defs ok; dg list defs: {listed or 'nothing'}")
    if failed:
        print(f"platformctl check-defs: failed in {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
