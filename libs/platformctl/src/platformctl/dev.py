"""`make dev`: every code location in one `dagster dev`, with no Docker.

    platformctl dev [--port PORT] [--data-dir DIR] LOCATION...

The embedded default for pipeline authors: SQLite instance storage, local
folders for the object store, and a DuckDB file as the warehouse (dbt's duckdb
target), all under .local_data/ (git-ignored). Each location's code server runs
in its own project environment (code_locations/<name>/.venv), as in production.
`dagster dev` comes from the environment this runs in (the root's dev group);
a team working alone runs `uv run dg dev` in its own folder instead (README).
The files it writes are JSON, which is YAML: standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from platformctl import repo


def write_workspace(root: Path, locations: list[str], data_dir: Path) -> Path:
    entries = []
    for name in locations:
        project = root / "code_locations" / name
        entries.append({"python_module": {
            "module_name": f"{name}.definitions",
            "location_name": name,
            "working_directory": str(project),
            "executable_path": str(project / ".venv" / "bin" / "python"),
        }})
    path = data_dir / "workspace.yaml"
    path.write_text(json.dumps({"load_from": entries}, indent=2) + "\n")
    return path


def write_instance(data_dir: Path) -> Path:
    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    # SQLite storage (the default); one run at a time, because a DuckDB file
    # takes one writer at a time.
    config = {
        "run_coordinator": {
            "module": "dagster",
            "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": 1, "dequeue_interval_seconds": 1},
        },
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(json.dumps(config, indent=2) + "\n")
    return home


def main(argv: list[str] | None = None) -> int:
    root = repo.root()
    parser = argparse.ArgumentParser(prog="platformctl dev", description=__doc__.splitlines()[0])
    parser.add_argument("--port", default="3000")
    parser.add_argument("--data-dir", type=Path, default=root / ".local_data")
    parser.add_argument("locations", nargs="+")
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    missing = [n for n in args.locations if not (root / "code_locations" / n / ".venv" / "bin" / "python").exists()]
    if missing:
        print(f"no environment for {', '.join(missing)}: run `uv sync --group dev` in code_locations/<name>",
              file=sys.stderr)
        return 2
    workspace = write_workspace(root, args.locations, data_dir)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(write_instance(data_dir)),
        "DAGSTER_PLATFORM_ENV": "local",
        "DAGSTER_PLATFORM_LOCAL_DIR": str(data_dir),
    }
    cmd = ["dagster", "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", args.port]
    print(f"dagster dev on http://127.0.0.1:{args.port} with {', '.join(args.locations)}; data in {data_dir}")
    return subprocess.call(cmd, env=env)
