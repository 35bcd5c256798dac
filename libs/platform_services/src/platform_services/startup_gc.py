"""Python's cyclic garbage collector, held back while a Dagster process loads its code.

Every run is a new `dagster api execute_run` process (a new container, or a
Kubernetes pod). Before it runs anything it imports Dagster, SQLAlchemy, boto3
and the location's code: a few hundred thousand objects that live as long as the
process. Python's collector starts a collection every 700 new objects and, as
that heap grows, walks all of it again and again. Measured in the housekeeping
image (docs/adr/0007-startup-garbage-collector.md): a probe run's worker spends
0.7-0.9 CPU-seconds less with the collector held back until its definitions are
loaded.

How: the location images set DAGSTER_PLATFORM_STARTUP_GC=defer. At interpreter
start, `platform_services_startup_gc.pth` (installed next to this package) calls
`defer()`, which, in Dagster's commands that load a location's code and nowhere
else, raises the first generation's threshold to STARTUP_THRESHOLD. When the
location's `@dg.definitions` function runs (`platform_common.current_environment()`
calls `definitions_loaded()`), the objects loaded so far are frozen out of the
collector's reach for good (`gc.freeze()`: modules, classes, functions) and
Python's thresholds are back. A process that never gets there still collects,
every STARTUP_THRESHOLD allocations: memory stays bounded.

Standard library only: this module is imported at every interpreter start in
the images' virtualenv, so it must cost nothing where it does not apply.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping, Sequence

ENV_VAR = "DAGSTER_PLATFORM_STARTUP_GC"
ENABLED = "defer"
# The commands that load a location's code: a code server, a run worker, a step
# worker (Kubernetes' step launchers). What Dagster's launchers run: tests/test_startup_gc.py.
COMMANDS = frozenset({("api", "grpc"), ("api", "execute_run"), ("api", "resume_run"), ("api", "execute_step")})
# A step of the multiprocess executor: a new interpreter that multiprocessing
# starts with "spawn" (Dagster's default start method), which loads the code again.
SPAWNED = "--multiprocessing-fork"
STARTUP_THRESHOLD = 1_000_000

_saved: tuple[int, int, int] | None = None


def dagster_command(argv: Sequence[str]) -> tuple[str, ...]:
    """("api", "execute_run") for `/opt/venv/bin/python /opt/venv/bin/dagster api execute_run ...`."""
    for i, arg in enumerate(argv):
        if os.path.basename(arg) == "dagster":
            return tuple(argv[i + 1 : i + 3])
    return ()


def applies(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    if env.get(ENV_VAR, "") != ENABLED:
        return False
    return dagster_command(argv) in COMMANDS or (SPAWNED in argv and "multiprocessing" in " ".join(argv))


def defer(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> bool:
    """Hold the collector back if this process is one of `COMMANDS` (or a step it spawned)."""
    global _saved
    if _saved is not None or not applies(sys.orig_argv if argv is None else argv, env):
        return False
    _saved = gc.get_threshold()
    gc.set_threshold(STARTUP_THRESHOLD, *_saved[1:])
    return True


def definitions_loaded() -> bool:
    """Freeze what is loaded and give the collector back its thresholds (once; else a no-op)."""
    global _saved
    if _saved is None:
        return False
    gc.freeze()
    gc.set_threshold(*_saved)
    _saved = None
    return True
