"""platform_services.cli and libs/platform_services/bin/dagster: the images'
`dagster` command. Dagster's CLI, unchanged, started with its imports frozen
out of the garbage collector. Each case runs in a new interpreter, because the
collector's state is per process."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from platform_services import cli

ROOT = Path(__file__).resolve().parents[1]
SHIM = ROOT / "libs" / "platform_services" / "bin" / "dagster"


def python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


def frozen_at_exit(argv: list[str], run: str) -> str:
    """Python code that runs `run` with sys.argv = `argv` and, when the process exits,
    prints a last line: `frozen <objects frozen> <collector enabled>`."""
    return ("import atexit, gc, runpy, sys; "
            "atexit.register(lambda: print('frozen', gc.get_freeze_count(), gc.isenabled())); "
            f"sys.argv = {argv!r}; {run}")


def shim_frozen_at_exit(shim: str, *args: str) -> str:
    """frozen_at_exit for the shim file at `shim`, run as `dagster` runs it."""
    return frozen_at_exit([shim, *args], "runpy.run_path(sys.argv[0], run_name='__main__')")


def output_and_frozen(stdout: str) -> tuple[str, int, bool]:
    *lines, last = stdout.splitlines()
    label, frozen, enabled = last.split()
    assert label == "frozen", stdout
    return "\n".join(lines), int(frozen), enabled == "True"


def help_of_wrapper(module: str) -> tuple[str, int, bool]:
    """`python -m platform_services.<module> --help`, in process: its output, and the
    collector's frozen objects and state when it exits."""
    proc = python("-c", frozen_at_exit([f"platform_services.{module}", "--help"],
                                       f"from platform_services import {module}; {module}.main()"))
    assert proc.returncode == 0, proc.stderr
    return output_and_frozen(proc.stdout)


def dagster(*args: str) -> subprocess.CompletedProcess:
    """Dagster's own `dagster` from this environment."""
    exe = shutil.which("dagster", path=os.path.dirname(sys.executable))
    assert exe, "dagster is not installed beside this interpreter"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


STATE_AFTER_PREPARE = """
import gc, sys
import pytest
from platform_services import cli
assert gc.get_freeze_count() == 0
cli.prepare(cli.preload_for(sys.argv[1:]))
print(gc.get_freeze_count(), gc.isenabled(), gc.get_threshold() == (700, 10, 10),
      all(name in sys.modules for name in cli.PRELOAD), "boto3" in sys.modules)
"""


def test_a_run_worker_freezes_dagster_the_storage_and_the_compute_logs_and_collects_again():
    out = python("-c", STATE_AFTER_PREPARE, "api", "execute_run", "{}")
    assert out.returncode == 0, out.stderr
    frozen, enabled, default_thresholds, preloaded, boto3 = out.stdout.split()
    assert int(frozen) > 100_000  # Dagster, SQLAlchemy, Alembic, boto3: about 300,000 objects
    assert (enabled, default_thresholds, preloaded, boto3) == ("True", "True", "True", "True")


def test_other_commands_do_not_import_the_compute_log_manager():
    """A code server never opens it: boto3 would only cost it 9 MiB."""
    for args in (["api", "grpc", "-p", "4000"], ["instance", "info"], []):
        out = python("-c", STATE_AFTER_PREPARE, *args)
        assert out.returncode == 0, out.stderr
        frozen, enabled, _, preloaded, boto3 = out.stdout.split()
        assert int(frozen) > 100_000 and (enabled, preloaded, boto3) == ("True", "True", "False"), args
    assert {args[1] for args in cli.EXECUTES_A_RUN} == {"execute_run", "resume_run", "execute_step"}


def test_prepare_leaves_a_disabled_collector_disabled():
    out = python("-c", "import gc; from platform_services import cli; gc.disable(); "
                       "cli.prepare(('json',)); print(gc.isenabled(), gc.get_freeze_count() > 0)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_the_shim_is_dagsters_cli_same_output_and_exit_codes():
    assert os.access(SHIM, os.X_OK)
    for args in (["--version"], ["api", "--help"], ["api", "no-such-command"], ["instance", "info", "--bogus"]):
        ours = python(str(SHIM), *args)
        theirs = dagster(*args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), args
    assert python(str(SHIM), "--version").stdout.startswith("dagster, version 1.13.27")
    assert python(str(SHIM), "api", "no-such-command").returncode == 2


def test_the_shim_runs_the_command_with_the_start_frozen():
    out = python("-c", shim_frozen_at_exit(str(SHIM), "--version"))
    assert out.returncode == 0, out.stderr
    version, frozen, enabled = output_and_frozen(out.stdout)
    assert version.startswith("dagster, version ")
    assert frozen > 100_000 and enabled


def test_the_images_put_the_shim_first_on_path():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "COPY libs/platform_services/bin/dagster /opt/platform/bin/dagster\n" in dockerfile
    assert "ENV PATH=/opt/platform/bin:/opt/venv/bin:$PATH " in dockerfile
    # The shim's interpreter is the images' virtualenv.
    assert SHIM.read_text().splitlines()[0] == "#!/opt/venv/bin/python"


MULTIPROCESS_JOB = '''
import dagster as dg

@dg.op
def one() -> int:
    return 1

@dg.op
def plus_one(x: int) -> int:
    return x + 1

@dg.job(executor_def=dg.multiprocess_executor)
def two_steps():
    plus_one(one())
'''


def test_a_job_on_the_multiprocess_executor_runs_its_steps_through_the_shim(tmp_path):
    """The executor's step processes start with "spawn", which runs the parent's
    main script again: an unguarded shim ran the whole command a second time."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "job.py").write_text(MULTIPROCESS_JOB)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, str(SHIM), "job", "execute", "-f", str(tmp_path / "job.py"),
                           "-j", "two_steps"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Finished execution of step "plus_one"' in log and "RUN_SUCCESS" in log
    assert "Executing steps using multiprocess executor" in log
    assert "duplicate run" not in log


# --- packages a location keeps out of the processes that run no step of it -----

HEAVY_JOB = '''
import multiprocessing, os, sys
import dagster as dg

try:
    import heavylib.sub
    loaded = "imported"
except ModuleNotFoundError as error:
    loaded = f"kept out: {error}"
role = "step" if multiprocessing.parent_process() else os.environ.get("ROLE", "run worker")
with open(os.environ["LOADS"], "a") as loads:
    loads.write(f"{role}|{loaded}\\n")

@dg.op
def uses_heavy() -> str:
    return heavylib.sub.VALUE

@dg.op
def shout(value: str) -> str:
    return value.upper()

@dg.job(executor_def=dg.multiprocess_executor)
def two_steps():
    shout(uses_heavy())
'''

CREATE_RUN = '''
import sys
from dagster import DagsterInstance
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import serialize_value
recon = ReconstructableJob.for_file(sys.argv[1], "two_steps")
instance = DagsterInstance.get()
run = instance.create_run_for_job(job_def=recon.get_definition(), job_code_origin=recon.get_python_origin())
print(serialize_value(ExecuteRunArgs(job_origin=recon.get_python_origin(), run_id=run.run_id,
                                     instance_ref=instance.get_ref())))
'''


@pytest.fixture
def location(tmp_path, monkeypatch):
    """A location package `fakeloc` that declares `heavylib` step-only, on sys.path."""
    for name, text in {"fakeloc/__init__.py": 'STEP_ONLY_PACKAGES = ("heavylib",)\n',
                       "heavylib/__init__.py": "", "heavylib/sub.py": 'VALUE = "heavy"\n',
                       "brokenloc/__init__.py": "raise RuntimeError('a broken location')\n",
                       "badloc/__init__.py": 'STEP_ONLY_PACKAGES = "heavylib"\n'}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_code_server_and_a_run_worker_keep_the_declared_packages_out(location):
    for args in (["api", "grpc", "-p", "4000"], ["api", "execute_run", "{}"], ["api", "resume_run", "{}"]):
        assert cli.step_only_packages(args, {"DAGSTER_LOCATION_NAME": "fakeloc"}) == ("fakeloc", ("heavylib",))
    out = python("-c", "from platform_services import cli; cli.keep_out(('heavylib',), 'fakeloc')\n"
                       "for name in ('heavylib', 'heavylib.sub'):\n"
                       "    try:\n        __import__(name)\n    except ModuleNotFoundError as e:\n"
                       "        print(name, e.name, '|', e)\n"
                       "import json; print('json', 'json' in __import__('sys').modules)")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(" |")[0] for line in lines] == ["heavylib heavylib", "heavylib.sub heavylib", "json True"]
    assert "fakeloc.STEP_ONLY_PACKAGES keeps 'heavylib' out of processes that run no step" in lines[0]


def test_other_commands_and_processes_keep_nothing_out(location):
    for args in (["api", "execute_step", "{}"], ["job", "execute"], ["asset", "materialize"], ["--version"], []):
        assert cli.step_only_packages(args, {"DAGSTER_LOCATION_NAME": "fakeloc"}) == ("fakeloc", ()), args
    # The platform image (webserver, daemon) has no location; nor does a broken one,
    # whose error Dagster's own load of the code shows in the UI.
    assert cli.step_only_packages(["api", "grpc"], {}) == ("", ())
    assert cli.step_only_packages(["api", "grpc"], {"DAGSTER_LOCATION_NAME": "brokenloc"}) == ("brokenloc", ())
    assert cli.step_only_packages(["api", "grpc"], {"DAGSTER_LOCATION_NAME": "no_such_location"}) == (
        "no_such_location", ())


def test_a_malformed_declaration_or_a_package_already_imported_is_a_clear_error(location):
    with pytest.raises(TypeError, match="badloc.STEP_ONLY_PACKAGES must be a tuple of top-level package names"):
        cli.step_only_packages(["api", "grpc"], {"DAGSTER_LOCATION_NAME": "badloc"})
    out = python("-c", "import heavylib; from platform_services import cli; cli.keep_out(('heavylib',), 'fakeloc')")
    assert out.returncode == 1
    assert "fakeloc.STEP_ONLY_PACKAGES: ['heavylib'] already imported" in out.stderr


def test_the_run_worker_keeps_them_out_and_its_multiprocess_steps_import_them(location, tmp_path):
    """`dagster api execute_run` through the shim, as a run container starts it: the
    run worker loads the job without `heavylib`, and each step's own process with it."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "job.py").write_text(HEAVY_JOB)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "LOADS": str(tmp_path / "loads.txt")}
    created = subprocess.run([sys.executable, "-c", CREATE_RUN, str(tmp_path / "job.py")], capture_output=True,
                             text=True, timeout=120, env={**env, "ROLE": "test"})
    assert created.returncode == 0, created.stderr[-3000:]
    proc = subprocess.run([sys.executable, str(SHIM), "api", "execute_run", created.stdout.strip().splitlines()[-1]],
                          capture_output=True, text=True, timeout=300,
                          env={**env, "DAGSTER_LOCATION_NAME": "fakeloc"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "RUN_SUCCESS" in proc.stdout + proc.stderr
    loads = [line.split("|", 1) for line in (tmp_path / "loads.txt").read_text().splitlines()]
    assert [role for role, _ in loads] == ["test", "run worker", "step", "step"]
    assert loads[1][1].startswith("kept out: No module named 'heavylib' in this process")
    assert {loaded for role, loaded in loads if role != "run worker"} == {"imported"}
