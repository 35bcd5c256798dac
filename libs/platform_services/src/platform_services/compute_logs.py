"""dagster-aws's S3ComputeLogManager, loaded without the rest of dagster-aws.

`compute_logs: module: dagster_aws.s3.compute_log_manager` imports the
`dagster_aws` package first, and its __init__ imports every dagster-aws
component (Athena, ECR, RDS, Secrets Manager, SSM, ...) and through them
dagster's test utilities, rich, structlog, fsspec and universal_pathlib.
Measured in the ingest image, after `import dagster, boto3`: 0.49 CPU-seconds
and 38 MiB. Every run worker pays it at start, and every long-running process
that opens the compute log manager keeps it.

The module that defines the class, dagster_aws/s3/compute_log_manager.py,
imports nothing else from dagster-aws. This module runs that file, from the
installed (pinned) dagster-aws, on its own, and exports its class unchanged:
same config, same object keys, same behaviour. dagster.yaml names this module:

    compute_logs:
      module: platform_services.compute_logs
      class: S3ComputeLogManager
      config: {...}                # exactly as for dagster_aws's

When a process has already imported dagster_aws's module, that one is used.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

UPSTREAM = "dagster_aws.s3.compute_log_manager"


def upstream_path() -> Path:
    # find_spec of a top-level package locates it without running its __init__.
    spec = importlib.util.find_spec("dagster_aws")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("dagster-aws is not installed; platform_services.compute_logs needs it")
    return Path(next(iter(spec.submodule_search_locations))) / "s3" / "compute_log_manager.py"


def _load() -> ModuleType:
    if UPSTREAM in sys.modules:
        return sys.modules[UPSTREAM]
    name = f"{__name__}._dagster_aws_s3_compute_log_manager"
    spec = importlib.util.spec_from_file_location(name, upstream_path())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


S3ComputeLogManager = _load().S3ComputeLogManager

__all__ = ["S3ComputeLogManager"]
