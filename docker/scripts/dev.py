"""`make dev`: every code location in one `dagster dev`, with no Docker.

The embedded default for pipeline authors: SQLite instance storage, local
folders for the object store, and a DuckDB file as the warehouse (dbt's duckdb
target), all under .local_data/ (git-ignored). Each location's code server runs
in its own project environment (code_locations/<name>/.venv), as in production.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def write_workspace(locations: list[str], data_dir: Path) -> Path:
    entries = []
    for name in locations:
        project = ROOT / "code_locations" / name
        entries.append({"python_module": {
            "module_name": f"{name}.definitions",
            "location_name": name,
            "working_directory": str(project),
            "executable_path": str(project / ".venv" / "bin" / "python"),
        }})
    path = data_dir / "workspace.yaml"
    path.write_text(yaml.safe_dump({"load_from": entries}, sort_keys=False))
    return path


def write_instance(data_dir: Path) -> Path:
    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    # SQLite storage (the default); one run at a time, because a DuckDB file
    # takes one writer at a time.
    config = {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": 1, "dequeue_interval_seconds": 1},
        },
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", default="3000")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".local_data")
    parser.add_argument("locations", nargs="+")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    missing = [n for n in args.locations if not (ROOT / "code_locations" / n / ".venv" / "bin" / "python").exists()]
    if missing:
        print(f"no environment for {', '.join(missing)}: run `uv sync --group dev` in code_locations/<name>",
              file=sys.stderr)
        return 2
    workspace = write_workspace(args.locations, data_dir)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(write_instance(data_dir)),
        "DAGSTER_PLATFORM_ENV": "local",
        "DAGSTER_PLATFORM_LOCAL_DIR": str(data_dir),
    }
    cmd = ["dagster", "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", args.port]
    print(f"dagster dev on http://127.0.0.1:{args.port} with {', '.join(args.locations)}; data in {data_dir}")
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
