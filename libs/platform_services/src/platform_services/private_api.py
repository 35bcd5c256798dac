"""Every name the platform's runtime code imports from a private `dagster._` module.

Each is a cost at every Dagster upgrade, so each has an ADR with its measured
benefit, and tests/test_private_api.py fails when an upgrade moves or changes
one. Runtime code imports these names from here, never from `dagster._...`
directly (tests/test_private_api.py checks that too).

| name | from | why (ADR) |
|---|---|---|
| CheckRunHealthResult, WorkerStatus | dagster._core.launcher | run monitoring reports a dead run container's last log lines (docs/adr/0002-docker-run-launcher.md) |
| process_config | dagster._config | `make check` names a bad key of any configured class (docs/adr/0004-config-check.md) |
| DagsterInvalidConfigError | dagster._core.errors | the same (docs/adr/0004-config-check.md) |
| dagster_instance_config | dagster._core.instance.config | `make check` validates dagster.yaml with no database (docs/adr/0004-config-check.md) |
| class_from_code_pointer | dagster._serdes.config_class | `make check` loads each class dagster.yaml names (docs/adr/0004-config-check.md) |
| process_workspace_config | dagster._core.workspace.config_schema | `make check` validates workspace.yaml (docs/adr/0004-config-check.md) |
"""

from dagster._config import process_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.workspace.config_schema import process_workspace_config
from dagster._serdes.config_class import class_from_code_pointer

__all__ = [
    "CheckRunHealthResult",
    "DagsterInvalidConfigError",
    "WorkerStatus",
    "class_from_code_pointer",
    "dagster_instance_config",
    "process_config",
    "process_workspace_config",
]
