"""Runs in a code location's own environment (tests/test_location_images.py):
one run through `dagster api execute_run`, exactly as a run container or a
Kubernetes run pod starts it, on the instance in $DAGSTER_HOME.

Prints one JSON line: the run's status, which launcher packages could be
imported, and how the worker's start treated the garbage collector.
"""

import gc
import importlib.util
import json
import os
import re
import subprocess
import sys

import dagster as dg
from platform_common import current_environment
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._grpc.types import ExecuteRunArgs


@dg.op
def hello(context: dg.OpExecutionContext) -> None:
    context.log.info("hello from the run worker")
    # How the run worker's start treated the garbage collector (platform_services.startup_gc).
    print(f"startup_gc threshold={gc.get_threshold()[0]} frozen={gc.get_freeze_count()}", flush=True)


@dg.job
def worker_job():
    hello()


# Where a location's @dg.definitions function would call it: its code is loaded.
current_environment()


if __name__ == "__main__":
    recon = ReconstructableJob.for_file(os.path.abspath(__file__), "worker_job")
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(job_def=recon.get_definition(), job_code_origin=recon.get_python_origin())
        args = ExecuteRunArgs(job_origin=recon.get_python_origin(), run_id=run.run_id, instance_ref=None)
        # What the launchers run in the container (`dagster api execute_run <args>`), from this environment.
        cli = list(args.get_command_args())
        command = [os.path.join(os.path.dirname(sys.executable), "dagster"), *cli[cli.index("api"):]]
        worker = subprocess.run(command, capture_output=True, text=True, timeout=300)
        status = instance.get_run_by_id(run.run_id).status.value
        launcher = instance.get_ref().run_launcher_data
    print(json.dumps({
        "status": status,
        "returncode": worker.returncode,
        "output": (worker.stdout + worker.stderr)[-3000:],
        "startup_gc": re.findall(r"startup_gc threshold=(\d+) frozen=(\d+)", worker.stdout + worker.stderr),
        "launcher_class": f"{launcher.module_name}.{launcher.class_name}",
        "importable": {m: importlib.util.find_spec(m) is not None
                       for m in ("dagster_k8s", "kubernetes", "platform_services")},
    }))
