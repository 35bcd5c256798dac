"""The private Dagster API the platform's runtime code uses, all of it, in one
file (libs/platform_services/src/platform_services/private_api.py), each name
with an ADR. These tests fail when a Dagster upgrade moves or changes one, and
when runtime code reaches into `dagster._` anywhere else."""

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "libs/platform_services/src/platform_services/private_api.py"
# Runtime code: everything outside tests/ and bench/ (and each project's own tests/).
EXEMPT = re.compile(r"(^|/)(tests|bench)/")
PRIVATE = re.compile(r"^dagster(_[a-z]+)?\._")


def private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and PRIVATE.match(node.module):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if PRIVATE.match(a.name)]
    return found


def runtime_python_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [f for f in listed if not EXEMPT.search(f) and (ROOT / f).is_file()]


def test_runtime_code_imports_no_private_dagster_module_but_through_the_registry():
    offenders = {f: private_imports(ROOT / f) for f in runtime_python_files()}
    offenders = {f: mods for f, mods in offenders.items() if mods and ROOT / f != REGISTRY}
    assert offenders == {}


def test_every_registered_name_has_an_adr_that_exists():
    text = REGISTRY.read_text()
    adrs = re.findall(r"docs/adr/\d{4}-[\w-]+\.md", text)
    assert adrs and all((ROOT / adr).is_file() for adr in adrs)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "dagster._" in line]
    assert len(rows) == len(private_imports(REGISTRY))  # a table row per private import


def test_the_run_health_names_still_mean_what_the_launcher_relies_on():
    from platform_services.private_api import CheckRunHealthResult, WorkerStatus

    assert {"RUNNING", "NOT_FOUND", "FAILED", "SUCCESS", "UNKNOWN"} <= {s.name for s in WorkerStatus}
    result = CheckRunHealthResult(WorkerStatus.FAILED, msg="why")
    assert (result.status, result.msg) == (WorkerStatus.FAILED, "why")
    # DockerRunLauncher still returns them from the hook the platform's launcher extends.
    from dagster_docker import DockerRunLauncher

    assert "check_run_worker_health" in DockerRunLauncher.__dict__


def test_the_config_check_names_still_validate_the_way_make_check_relies_on(tmp_path):
    from platform_services.private_api import (
        DagsterInvalidConfigError,
        class_from_code_pointer,
        dagster_instance_config,
        process_config,
        process_workspace_config,
    )

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_queue: {bogus: 1}\n")
    try:
        dagster_instance_config(str(tmp_path))
        raise AssertionError("an unknown key passed")
    except DagsterInvalidConfigError as exc:
        assert exc.errors and "bogus" in str(exc)
    launcher = class_from_code_pointer("dagster_docker", "DockerRunLauncher")
    assert not process_config(launcher.config_type(), {"network": 5}).success
    assert process_workspace_config({"load_from": [{"grpc_server": {"host": "x", "port": 4000}}]}).success
    assert not process_workspace_config({"load_from": [{"grpc_servr": {}}]}).success
