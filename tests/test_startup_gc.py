"""platform_services.startup_gc (docs/adr/0007): which processes hold the garbage
collector back while they load a location's code, and what Dagster must keep
doing for that to work. The last tests break on a Dagster upgrade that changes
the commands its launchers run or how its executor starts a step."""

from __future__ import annotations

import multiprocessing.spawn
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.multiprocess import MultiprocessExecutor
from dagster._grpc.types import ExecuteRunArgs, ExecuteStepArgs, ResumeRunArgs
from platform_services import startup_gc

ON = {startup_gc.ENV_VAR: startup_gc.ENABLED}
DAGSTER = ["/opt/venv/bin/python", "/opt/venv/bin/dagster"]


@pytest.mark.parametrize("command", [
    ["api", "execute_run", "{}"],
    ["api", "resume_run", "{}"],
    ["api", "execute_step", "{}"],
    ["api", "grpc", "-h", "0.0.0.0", "-p", "4000", "--lazy-load-user-code"],
])
def test_dagsters_commands_that_load_a_locations_code_hold_it_back(command):
    assert startup_gc.applies([*DAGSTER, *command], ON)


@pytest.mark.parametrize("argv", [
    [*DAGSTER, "api", "grpc-health-check", "-p", "4000"],
    [*DAGSTER, "job", "execute", "-m", "x"],
    ["/opt/venv/bin/python", "/opt/venv/bin/dbt", "build"],
    ["/opt/venv/bin/python", "-m", "platform_services.health", "4000"],
    ["/opt/venv/bin/python", "-c", "pass"],
])
def test_every_other_process_keeps_pythons_collector(argv):
    assert not startup_gc.applies(argv, ON)


def test_nothing_is_held_back_unless_the_image_asks():
    argv = [*DAGSTER, "api", "execute_run", "{}"]
    assert not startup_gc.applies(argv, {})
    assert not startup_gc.applies(argv, {startup_gc.ENV_VAR: "off"})


CYCLE = """
import gc, sys
from platform_services import startup_gc
before = gc.get_threshold()
assert startup_gc.defer(sys.argv[1:], {startup_gc.ENV_VAR: "defer"})
held = gc.get_threshold()
import email.mime.multipart, json, decimal  # some code to load
assert startup_gc.definitions_loaded() and not startup_gc.definitions_loaded()
print(before[0], held[0], gc.get_threshold()[0], gc.get_freeze_count() > 1000, gc.isenabled())
"""


def test_held_back_until_the_definitions_load_then_frozen_and_pythons_thresholds_again():
    out = subprocess.run([sys.executable, "-c", CYCLE, *DAGSTER, "api", "execute_run", "{}"],
                         check=True, capture_output=True, text=True).stdout.split()
    assert out == ["700", str(startup_gc.STARTUP_THRESHOLD), "700", "True", "True"]


def test_the_pth_file_runs_defer_at_every_interpreter_start():
    import platform_services

    pth = Path(platform_services.__file__).parents[2] / "platform_services_startup_gc.pth"
    assert pth.read_text().strip() == "import platform_services.startup_gc as m; m.defer()"
    # Installed beside the package (the wheel's force-include), so the interpreter runs it.
    installed = [p for p in sys.path if (Path(p) / "platform_services_startup_gc.pth").is_file()]
    assert installed, "platform_services_startup_gc.pth is not in any site-packages"


# --- what Dagster must keep doing (breaks on an upgrade that changes it) -------


@dg.op
def noop() -> None:
    pass


@dg.job
def a_job():
    noop()


def test_dagsters_launchers_start_runs_and_steps_with_the_commands_held_back():
    origin = ReconstructableJob.for_file(__file__, "a_job").get_python_origin()
    for args, command in [
        (ExecuteRunArgs(job_origin=origin, run_id="r", instance_ref=None), ("api", "execute_run")),
        (ResumeRunArgs(job_origin=origin, run_id="r", instance_ref=None), ("api", "resume_run")),
        (ExecuteStepArgs(job_origin=origin, run_id="r", step_keys_to_execute=None, instance_ref=None),
         ("api", "execute_step")),
    ]:
        argv = list(args.get_command_args())
        assert startup_gc.dagster_command(argv) == command, argv
        assert startup_gc.applies(argv, ON), argv


def test_the_multiprocess_executor_spawns_its_steps_so_they_are_held_back_too():
    assert MultiprocessExecutor(retries=RetryMode.DISABLED, max_concurrent=1)._start_method == "spawn"  # noqa: SLF001
    argv = [sys.executable, *multiprocessing.spawn.get_command_line()[1:]]
    assert startup_gc.applies(argv, ON), argv
