"""The `dagster` command of our images: Dagster's own CLI, with its start kept
out of Python's garbage collector.

Every run is a new `dagster api execute_run` process in a new container. Before
it runs anything, it imports Dagster, SQLAlchemy, Alembic, boto3 and the
location's code: a few hundred thousand objects that live as long as the process.
Python's collector runs every 700 new objects and, as the heap grows, walks the
whole of it again and again. Measured in the ingest image, one trivial run:
2.6 CPU-seconds with the collector as it is, 1.6 with this.

So the collector is off while Dagster and the modules our dagster.yaml names are
imported; `gc.freeze()` then moves everything imported so far out of its reach
for good, and it is back on, with Python's thresholds, before Dagster parses its
arguments. Nothing else differs from `dagster`: the same commands, options,
output and exit codes. Frozen objects are never collected, which is what
modules, classes and functions are anyway.

The images put `libs/platform_services/bin/dagster`, which runs this, before the virtualenv's
own `dagster` on PATH, so run workers (Docker containers and Kubernetes Jobs:
the code servers tell the launchers to start runs with `dagster`) and code
servers start this way with no change to their commands.
"""

from __future__ import annotations

import gc
import importlib
import sys

# Imported before the freeze: Dagster's CLI and the storage dagster.yaml names,
# which every command that opens the instance imports.
PRELOAD = ("dagster._cli", "dagster_postgres", "platform_services.storage")
# A command that executes a run also captures its logs: dagster.yaml's compute
# log manager, with boto3. The others load it lazily, if ever (a code server
# never does), and would only grow by 9 MiB of boto3.
EXECUTES_A_RUN = {("api", "execute_run"), ("api", "resume_run"), ("api", "execute_step")}
RUN_PRELOAD = (*PRELOAD, "platform_services.compute_logs")


def preload_for(args: list[str]) -> tuple[str, ...]:
    return RUN_PRELOAD if tuple(args[:2]) in EXECUTES_A_RUN else PRELOAD


def prepare(modules: tuple[str, ...] = PRELOAD) -> None:
    """Import `modules` with the collector off, freeze what is loaded, collect again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for name in modules:
            importlib.import_module(name)
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()


def main(argv: list[str] | None = None) -> None:
    """Run Dagster's CLI on `argv` (default: sys.argv); exits with its code."""
    prepare(preload_for(sys.argv[1:] if argv is None else argv))
    from dagster._cli import ENV_PREFIX, cli

    cli.main(args=argv, prog_name="dagster", auto_envvar_prefix=ENV_PREFIX)


if __name__ == "__main__":
    main()
