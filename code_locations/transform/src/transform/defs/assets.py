"""The dbt models as assets, and the raw tables they read, by ingest's asset keys."""

import json
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from platform_common import Warehouse
from pydantic import Field

from transform.defs.dbt_failures import dbt_failure_is_transient
from platform_common.retries import RETRY_POLICY, FailsAtOnceConfig
from transform.project import dbt_project

OWNERS = ["team:transform"]
RAW_CUSTOMERS = dg.AssetKey(["raw", "customers"])
RAW_ORDERS = dg.AssetKey(["raw", "orders"])
RAW_PAYMENTS = dg.AssetKey(["raw", "payments"])
MARTS_ORDERS = dg.AssetKey(["marts", "orders"])
# ingest's partitioning of raw/orders and raw/payments (the data contract).
RAW_DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

# Owned and materialized by the ingest location; declared here by key so the
# lineage graph joins across locations. The dbt sources map to the same keys.
upstream = [
    dg.AssetSpec(RAW_CUSTOMERS, group_name="raw", owners=["team:ingest"]),
    dg.AssetSpec(RAW_ORDERS, group_name="raw", owners=["team:ingest"], partitions_def=RAW_DAILY),
    dg.AssetSpec(RAW_PAYMENTS, group_name="raw", owners=["team:ingest"], partitions_def=RAW_DAILY),
]


class TransformTranslator(DagsterDbtTranslator):
    """Models are keyed [schema, name] (dagster-dbt's default) and grouped by schema."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["config"].get("schema")
        return super().get_group_name(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str] | None:
        return OWNERS


class DbtBuildConfig(FailsAtOnceConfig):
    """Options for one `dbt build`; the defaults are what the sensor-triggered runs use."""

    full_refresh: bool = Field(default=False, description="dbt --full-refresh: rebuild incremental models")
    fail_fast: bool = Field(default=False, description="dbt --fail-fast: stop at the first failure")
    threads: int | None = Field(default=None, ge=1, le=32, description="dbt --threads; default: the profile's")

    def flags(self) -> list[str]:
        return [
            *(["--full-refresh"] if self.full_refresh else []),
            *(["--fail-fast"] if self.fail_fast else []),
            *(["--threads", str(self.threads)] if self.threads else []),
        ]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TransformTranslator(),
    name="transform_dbt",
    retry_policy=RETRY_POLICY,
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, config: DbtBuildConfig
) -> Iterator:
    """`dbt build`: each model, then its tests. A failing error-severity test makes dbt
    skip everything downstream of it and fails this step, at once.

    A build whose only failures are lost connections is retried whole (RETRY_POLICY):
    every model is rebuilt from raw, which dbt's table materialization does under
    another name and swaps in, so an interrupted attempt leaves each table either
    old or new, and the next attempt starts clean. `dbt retry` would rerun only the
    failed nodes, but needs the last attempt's target/, which is scratch space here.
    """
    # The images install the project read-only inside site-packages: dbt writes its
    # target/ and logs to scratch space instead.
    events, failure = [], None
    with tempfile.TemporaryDirectory(prefix="transform-dbt-") as scratch:
        invocation = dbt.cli(["build", *config.flags()], context=context, target_path=Path(scratch))
        try:
            events.extend(invocation.stream().fetch_row_counts().fetch_column_metadata())
        except Exception as exc:  # noqa: BLE001 - what dbt built before it failed still counts
            failure = exc if dbt_failure_is_transient(exc, run_results(Path(scratch))) else permanent(exc)
    # After dbt has exited: the local DuckDB file admits one process at a time.
    for event in events:
        yield with_preview(context, warehouse, event)
    if failure is not None:
        raise failure


def run_results(target: Path) -> list[dict]:
    """dbt's result for each node of the build; none if dbt stopped before running any."""
    path = target / "run_results.json"
    return json.loads(path.read_text())["results"] if path.exists() else []


def permanent(exc: Exception) -> dg.Failure:
    description = exc.description if isinstance(exc, dg.Failure) else f"{type(exc).__name__}: {exc}"
    return dg.Failure(description=description, allow_retries=False)


def with_preview(context: dg.AssetExecutionContext, warehouse: Warehouse, event: Any) -> Any:
    """A model's output, plus the first rows of the table dbt built (asset key [schema, name])."""
    if not isinstance(event, dg.Output):
        return event
    schema, table = context.asset_key_for_output(event.output_name).path
    try:
        return event.with_metadata({**event.metadata, "preview": warehouse.preview(schema, table)})
    except Exception as exc:  # noqa: BLE001 - a preview is a convenience, never a failure
        context.log.warning(f"no preview of {schema}.{table}: {exc}")
        return event
