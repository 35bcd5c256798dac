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

One more thing, which a location asks for: packages that only its steps use
stay out of the processes that run no step of it. A location package that sets
`STEP_ONLY_PACKAGES` (transform: dbt-core, whose import is most of the time a
transform run worker spends loading the definitions, and 40 MiB of its code
server) has `import <package>` fail, as if it were not installed, in its code
server (`api grpc`) and in its run workers (`api execute_run`, `api resume_run`).
Steps run elsewhere: the multiprocess executor starts each step in a new
interpreter, which does not run this file's `main()`, and `api execute_step` is
not on the list. So the location must run those steps with the multiprocess
executor; transform pins it and fails loudly in the step otherwise.

The images put `libs/platform_services/bin/dagster`, which runs this, before the virtualenv's
own `dagster` on PATH, so run workers (Docker containers and Kubernetes Jobs:
the code servers tell the launchers to start runs with `dagster`) and code
servers start this way with no change to their commands.
"""

from __future__ import annotations

import gc
import importlib
import importlib.abc
import os
import sys
from collections.abc import Iterable, Mapping

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


# Commands whose own process runs no step of the location: its code server, and
# its run workers, whose (multiprocess) executor runs each step in a new process.
RUNS_NO_STEP = {("api", "grpc"), ("api", "execute_run"), ("api", "resume_run")}
# Set by the location images (docker/Dockerfile): the location's top-level package.
LOCATION_VAR = "DAGSTER_LOCATION_NAME"


class StepOnlyPackages(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: importing one of `packages`, or anything under
    them, raises ModuleNotFoundError, as if they were not installed."""

    def __init__(self, packages: Iterable[str], declared_by: str) -> None:
        self.packages = frozenset(packages)
        self.declared_by = declared_by

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        top = fullname.partition(".")[0]
        if top in self.packages:
            raise ModuleNotFoundError(
                f"No module named {fullname!r} in this process: {self.declared_by}.STEP_ONLY_PACKAGES keeps "
                f"{top!r} out of processes that run no step (platform_services.cli); "
                "the steps that use it run in processes of their own (the multiprocess executor)",
                name=fullname,
            )
        return None


def step_only_packages(args: list[str], env: Mapping[str, str] = os.environ) -> tuple[str, tuple[str, ...]]:
    """The location package and the packages it keeps out of this command's process
    (none unless the command runs no step and the package declares some)."""
    location = env.get(LOCATION_VAR, "").strip()
    if tuple(args[:2]) not in RUNS_NO_STEP or not location.isidentifier():
        return location, ()
    try:
        package = importlib.import_module(location)
    except Exception:  # noqa: BLE001 - Dagster's own load of the code reports it, in the UI
        return location, ()
    declared = getattr(package, "STEP_ONLY_PACKAGES", ())
    if isinstance(declared, str) or not all(isinstance(p, str) and p.isidentifier() for p in declared):
        raise TypeError(f"{location}.STEP_ONLY_PACKAGES must be a tuple of top-level package names, "
                        f"got {declared!r}")
    return location, tuple(declared)


def keep_out(packages: tuple[str, ...], declared_by: str) -> None:
    """Make `packages` unimportable in this process. They must not be imported yet."""
    if not packages:
        return
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in packages)
    if loaded:
        raise RuntimeError(f"{declared_by}.STEP_ONLY_PACKAGES: {loaded[:3]} already imported; "
                           f"{declared_by}/__init__.py must not import them")
    sys.meta_path.insert(0, StepOnlyPackages(packages, declared_by))


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
    args = sys.argv[1:] if argv is None else argv
    location, packages = step_only_packages(args)
    keep_out(packages, location)
    prepare(preload_for(args))
    from dagster._cli import ENV_PREFIX, cli

    cli.main(args=argv, prog_name="dagster", auto_envvar_prefix=ENV_PREFIX)


if __name__ == "__main__":
    main()
