"""The one place that decides where a code location runs.

Call `current_environment()` inside a `@dg.definitions` function, never at
import time, and branch only when choosing resources. Assets never branch on it.
It is also where the images' garbage collector learns that the location's code
is loaded (platform_services.startup_gc).
"""

import os
from enum import Enum
from pathlib import Path

import dagster as dg

from platform_common.objectstore import ObjectStore
from platform_common.warehouse import Warehouse, WarehouseIOManager

ENV_VAR = "DAGSTER_PLATFORM_ENV"


class Environment(str, Enum):
    LOCAL = "local"  # `make dev` and in-process tests: DuckDB file, local folders
    DOCKER = "docker"  # the compose stack: Postgres warehouse, S3-compatible store
    K8S = "k8s"  # the Helm charts: same services as docker, reached through env


def current_environment() -> Environment:
    # The location's code is loaded by now: give Python's garbage collector back
    # what the images held back while it loaded (platform_services.startup_gc).
    _startup_done()
    raw = os.environ.get(ENV_VAR, Environment.LOCAL.value).strip().lower()
    try:
        return Environment(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        raise dg.DagsterInvalidConfigError(
            f"{ENV_VAR}={raw!r} is not a known environment; expected one of: {allowed}",
            [],
            None,
        ) from None


def _startup_done() -> None:
    try:
        from platform_services.startup_gc import definitions_loaded
    except ModuleNotFoundError:  # a location without the platform's runtime (make dev without it)
        return
    definitions_loaded()


SENSOR_INTERVAL_VAR = "PLATFORM_SENSOR_INTERVAL_SECONDS"
SENSOR_INTERVAL_SECONDS = 4


def sensor_interval_seconds() -> int:
    """Seconds between two evaluations of each of our sensors.

    Dagster's daemon wakes its sensor loop every 5 s and runs a sensor whose
    interval has passed; it measures from the moment the last tick started, a few
    milliseconds after that wake-up, so an interval of exactly 5 s is not yet over
    at the next wake-up and every tick comes 10 s apart. 4 s makes each wake-up a
    tick: an upstream materialization is seen within 5 s (Dagster's default
    interval is 30 s). Each evaluation is a gRPC call to the code server. The
    benchmark's reference profile sets PLATFORM_SENSOR_INTERVAL_SECONDS=30 to
    measure Dagster's default on the same images.
    """
    raw = os.environ.get(SENSOR_INTERVAL_VAR, "").strip()
    if not raw:
        return SENSOR_INTERVAL_SECONDS
    if not raw.isdigit() or not 1 <= int(raw) <= 86_400:
        raise dg.DagsterInvalidConfigError(
            f"{SENSOR_INTERVAL_VAR}={raw!r} must be a whole number of seconds from 1 to 86400", [], None
        )
    return int(raw)


def local_data_dir() -> Path:
    """Where `make dev` keeps its DuckDB warehouse and files (git-ignored)."""
    return Path(os.environ.get("DAGSTER_PLATFORM_LOCAL_DIR", ".local_data")).resolve()


def warehouse_for(env: Environment) -> Warehouse:
    if env is Environment.LOCAL:
        path = local_data_dir() / "warehouse.duckdb"
        path.parent.mkdir(parents=True, exist_ok=True)
        return Warehouse(backend="duckdb", duckdb_path=str(path))
    return Warehouse(
        backend="postgres",
        host=dg.EnvVar("DAGSTER_PG_HOST"),
        port=dg.EnvVar.int("DAGSTER_PG_PORT"),
        user=dg.EnvVar("DAGSTER_PG_USER"),
        password=dg.EnvVar("DAGSTER_PG_PASSWORD"),
        database=dg.EnvVar("WAREHOUSE_DB"),
    )


def object_store_for(env: Environment) -> ObjectStore:
    """The location's own data bucket (DATA_BUCKET): its archives, its charts."""
    if env is Environment.LOCAL:
        return ObjectStore(backend="local", bucket="dagster-data", local_dir=str(local_data_dir() / "objects"))
    return ObjectStore(
        backend="s3",
        bucket=dg.EnvVar("DATA_BUCKET"),
        endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
        region=dg.EnvVar("AWS_REGION"),
    )


LANDING_BUCKET_VAR = "LANDING_BUCKET"
LOCAL_LANDING_BUCKET = "landing"


def landing_store_for(env: Environment, *, read_only: bool = True) -> ObjectStore:
    """The landing bucket (LANDING_BUCKET), where files are dropped for ingest: keys
    `landing/orders/<YYYY-MM-DD>/<name>.csv`. Read-only for ingest, which lists and
    gets, and archives what it accepted in its own bucket; housekeeping deletes
    what was archived. Locally, the folder bucket `landing` beside `dagster-data`."""
    if env is Environment.LOCAL:
        return ObjectStore(
            backend="local", bucket=LOCAL_LANDING_BUCKET, local_dir=str(local_data_dir() / "objects"),
            read_only=read_only,
        )
    return ObjectStore(
        backend="s3",
        bucket=dg.EnvVar(LANDING_BUCKET_VAR),
        endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
        region=dg.EnvVar("AWS_REGION"),
        read_only=read_only,
    )


def location_store_for(env: Environment, location: str) -> ObjectStore:
    """Another location's bucket, read-only: `<LOCATION>_BUCKET`, which the platform
    sets for the buckets a location declares it reads (pyproject.toml,
    [tool.dagster-platform.object-store]). Locally every location shares one folder."""
    if env is Environment.LOCAL:
        return ObjectStore(backend="local", bucket="dagster-data", local_dir=str(local_data_dir() / "objects"),
                           read_only=True)
    return ObjectStore(
        backend="s3",
        bucket=dg.EnvVar(f"{location.upper()}_BUCKET"),
        endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
        region=dg.EnvVar("AWS_REGION"),
        read_only=True,
    )


def platform_resources(env: Environment) -> dict[str, object]:
    """The resources every location shares, chosen for `env`."""
    warehouse = warehouse_for(env)
    return {
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "object_store": object_store_for(env),
    }
