import dagster as dg
import pytest

from reports.definitions import defs
from reports.defs.assets import MONTHLY
from reports.defs.sensors import RANGE_END_TAG, RANGE_START_TAG, TRANSFORM_JOB

TABLES = {"reports/daily_revenue", "reports/orders_by_status", "reports/customer_summary", "reports/monthly_revenue"}
CHARTS = {"reports/revenue_chart", "reports/orders_by_status_chart"}


@pytest.fixture
def loaded() -> dg.Definitions:
    """Loaded inside each test, after conftest points the local environment at tmp_path."""
    return defs()


def test_asset_keys(loaded):
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert keys == TABLES | CHARTS | {"marts/orders", "marts/customers"}


def test_jobs(loaded):
    assert {j.name for j in loaded.resolve_all_job_defs()} >= {"reports_job"}
    # Pruning the landing bucket is the platform's (housekeeping's), not the reports team's.
    assert "prune_landing_job" not in {j.name for j in loaded.resolve_all_job_defs()}
    reports_job = loaded.resolve_job_def("reports_job")
    assert {k.to_user_string() for k in reports_job.asset_layer.executable_asset_keys} == TABLES | CHARTS
    assert reports_job.partitions_def == MONTHLY


def test_sensor_watches_transform_job_in_the_transform_location_and_runs_by_default(loaded):
    sensor = loaded.resolve_sensor_def("reports_after_transform")
    assert isinstance(sensor, dg.RunStatusSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "reports_job"
    assert sensor.minimum_interval_seconds == 4
    assert TRANSFORM_JOB == dg.JobSelector(
        location_name="transform", repository_name="__repository__", job_name="transform_job"
    )


@pytest.mark.parametrize("key", sorted(TABLES | CHARTS))
def test_every_report_asset_says_what_it_is_and_who_owns_it(loaded, key):
    spec = next(s for s in loaded.resolve_all_asset_specs() if s.key.to_user_string() == key)
    assert spec.description
    assert spec.owners == ["team:reports"]
    assert spec.code_version
    assert spec.group_name == "reports"
    # Tables are computed by the warehouse; only the charts draw with pandas and matplotlib.
    assert (({"sql", "postgres"} if key in TABLES else {"pandas", "matplotlib"}) <= set(spec.kinds))
    if key in TABLES:
        assert spec.metadata["dagster/column_schema"].columns


def test_monthly_revenue_is_partitioned_by_month_with_its_partition_column(loaded):
    spec = next(s for s in loaded.resolve_all_asset_specs() if s.key.to_user_string() == "reports/monthly_revenue")
    assert spec.partitions_def == MONTHLY
    assert MONTHLY.get_first_partition_key() == "2024-01-01"
    assert spec.metadata["partition_expr"] == "month"


def test_reports_job_as_the_sensor_launches_it_builds_everything(loaded, warehouse, object_store):
    """The real job, resources and executor from definitions.py, over every month in one run."""
    with dg.DagsterInstance.ephemeral() as instance:
        result = loaded.resolve_job_def("reports_job").execute_in_process(
            instance=instance,
            tags={RANGE_START_TAG: MONTHLY.get_first_partition_key(), RANGE_END_TAG: MONTHLY.get_last_partition_key()},
        )
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == TABLES | CHARTS
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "daily_revenue_matches_marts" and check.passed

    monthly = warehouse.read_sql("SELECT * FROM reports.monthly_revenue ORDER BY month")
    assert len(monthly) == len(MONTHLY.get_partition_keys())
    assert monthly["revenue_cents"].head(3).tolist() == [1500, 1100, 0]
    assert monthly["revenue_cents"].iloc[3:].eq(0).all()
    assert {o.key for o in object_store.list("charts/")} == {"charts/revenue_by_day.png", "charts/orders_by_status.png"}
