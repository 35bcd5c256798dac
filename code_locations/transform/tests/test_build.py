"""transform_job, run in process as the sensor launches it, against a DuckDB warehouse."""

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from platform_common import Warehouse

from raw_tables import RAW, load_raw
from transform.definitions import defs

MARTS = ("marts/orders", "marts/customers", "marts/customer_cohorts")


def warehouse_in(local_dir: Path) -> Warehouse:
    return Warehouse(backend="duckdb", duckdb_path=str(local_dir / "warehouse.duckdb"))


def run_transform_job() -> dg.ExecuteInProcessResult:
    """defs() for the current environment (the autouse fixture's local dir), then transform_job."""
    loaded = defs()
    result = loaded.resolve_job_def("transform_job").execute_in_process(raise_on_error=False)
    loaded.resources["warehouse"].engine().dispose()
    return result


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def good_build(tmp_path_factory):
    """One successful build over the sample data, shared by the tests that only read it."""
    local_dir = tmp_path_factory.mktemp("good")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PLATFORM_ENV", "local")
        mp.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(local_dir))
        mp.delenv("DBT_DUCKDB_PATH", raising=False)
        load_raw(warehouse_in(local_dir), RAW)
        result = run_transform_job()
    return local_dir, result


@pytest.fixture
def good_warehouse(good_build, local_environment) -> Warehouse:
    """A private copy of the good build's warehouse, at the path this test's defs() use."""
    shutil.copy(good_build[0] / "warehouse.duckdb", local_environment / "warehouse.duckdb")
    return warehouse_in(local_environment)


def test_the_job_builds_every_model_and_passes_every_check(good_build):
    _, result = good_build
    assert result.success
    assert materialized(result) == {
        "staging/stg_customers", "staging/stg_orders", "staging/stg_payments", *MARTS,
    }
    evaluations = checks(result)
    assert len(evaluations) == 19  # 18 dbt tests + payments_reconcile
    assert all(e.passed for e in evaluations.values())
    assert evaluations["payments_reconcile"].metadata["raw_cents"].value == 3450


def test_orders_mart_values(good_warehouse):
    o = good_warehouse.read_sql("SELECT * FROM marts.orders ORDER BY order_id")
    assert list(o.columns) == [
        "order_id", "customer_id", "order_date", "status", "credit_card_amount_cents", "coupon_amount_cents",
        "bank_transfer_amount_cents", "gift_card_amount_cents", "amount_cents",
    ]
    assert o["order_id"].tolist() == [10, 11, 12]
    assert o["credit_card_amount_cents"].tolist() == [1000, 0, 300]
    assert o["coupon_amount_cents"].tolist() == [250, 0, 0]
    assert o["bank_transfer_amount_cents"].tolist() == [0, 0, 1200]
    assert o["gift_card_amount_cents"].tolist() == [0, 700, 0]
    assert o["amount_cents"].tolist() == [1250, 700, 1500]
    assert o["status"].tolist() == ["completed", "returned", "placed"]
    assert pd.Timestamp(o["order_date"][1]) == pd.Timestamp("2024-01-09 12:30")


def test_customers_mart_values(good_warehouse):
    c = good_warehouse.read_sql("SELECT * FROM marts.customers ORDER BY customer_id")
    assert c["number_of_orders"].tolist() == [2, 1, 0]
    assert c["lifetime_value_cents"].tolist() == [1950, 1500, 0]
    assert pd.Timestamp(c["first_order"][0]) == pd.Timestamp("2024-01-01 09:00")
    assert pd.Timestamp(c["most_recent_order"][0]) == pd.Timestamp("2024-01-09 12:30")
    assert pd.Timestamp(c["first_order"][1]) == pd.Timestamp(c["most_recent_order"][1]) == pd.Timestamp("2024-01-02 18:00")
    assert c["first_order"].isna().tolist() == [False, False, True]  # Grace never ordered
    assert c["first_name"].tolist() == ["Ada", "Alan", "Grace"]


def test_customer_cohorts_values(good_warehouse):
    cohorts = good_warehouse.read_sql("SELECT * FROM marts.customer_cohorts ORDER BY weeks_since_first_order")
    # Ada and Alan both first ordered in the week of Mon 2024-01-01; only Ada came back a week later.
    assert [str(d)[:10] for d in cohorts["cohort_week"]] == ["2024-01-01", "2024-01-01"]
    assert cohorts["weeks_since_first_order"].tolist() == [0, 1]
    assert cohorts["cohort_size"].tolist() == [2, 2]
    assert cohorts["active_customers"].tolist() == [2, 1]
    assert cohorts["retention"].tolist() == [1.0, 0.5]


def test_materializations_carry_row_counts_and_columns(good_build):
    _, result = good_build
    events = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert events["marts/orders"]["dagster/row_count"].value == 3
    assert events["marts/customers"]["dagster/row_count"].value == 3
    # Staging models are views: dagster-dbt counts the rows of tables only (a
    # view's count is a full scan of raw; raw/* carry their own counts).
    assert "dagster/row_count" not in events["staging/stg_payments"]
    columns = {c.name for c in events["marts/orders"]["dagster/column_schema"].schema.columns}
    assert {"order_id", "amount_cents", "gift_card_amount_cents"} <= columns
    assert "+0w" in events["marts/customer_cohorts"]["retention_matrix"].value
    # The first rows of each table dbt built, read back from the warehouse.
    preview = events["marts/orders"]["preview"].value.splitlines()
    assert preview[0].startswith("| order_id | customer_id |") and len(preview) == 2 + 3
    assert events["staging/stg_payments"]["preview"].value.count("\n") == 1 + 5


# One batch of bad raw rows, each breaking exactly one guard on the staging models.
BAD_ORDERS = pd.DataFrame(
    {
        "order_id": [12, 13, 14, None],
        "customer_id": [2, 99, 1, 1],
        "order_date": pd.to_datetime(["2024-01-03"] * 4),
        "status": ["placed", "placed", "lost_in_the_post", "placed"],
    }
).astype({"order_id": "Int64"})
GUARDS = {
    "duplicate order id": ("stg_orders", "unique_stg_orders_order_id"),
    "order for a customer that does not exist": ("stg_orders", "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_"),
    "unknown status": ("stg_orders", "accepted_values_stg_orders_status__placed__shipped__completed__return_pending__returned"),
    "null order id": ("stg_orders", "not_null_stg_orders_order_id"),
}


@pytest.fixture(scope="module")
def bad_build(good_build, tmp_path_factory):
    """The good warehouse, plus BAD_ORDERS appended to raw.orders, rebuilt once."""
    local_dir = tmp_path_factory.mktemp("bad")
    shutil.copy(good_build[0] / "warehouse.duckdb", local_dir / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PLATFORM_ENV", "local")
        mp.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(local_dir))
        mp.delenv("DBT_DUCKDB_PATH", raising=False)
        load_raw(warehouse_in(local_dir), {"orders": BAD_ORDERS}, replace=False)
        result = run_transform_job()
    return local_dir, result


@pytest.mark.parametrize("guard", GUARDS, ids=list(GUARDS))
def test_each_guard_fails_its_blocking_check(bad_build, guard):
    model, check_name = GUARDS[guard]
    _, result = bad_build
    evaluation = checks(result)[check_name]
    assert evaluation.asset_key == dg.AssetKey(["staging", model])
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["dagster_dbt/failed_row_count"].value == 1


def test_failed_guards_stop_the_run_and_the_marts_keep_their_last_good_data(bad_build, good_warehouse):
    local_dir, result = bad_build
    assert not result.success  # so reports' sensor (transform_job succeeded) does not fire
    # Bad data fails the same way twice: the dbt step is not retried.
    dbt_step = [e.event_type_value for e in result.all_events if e.step_key == "transform_dbt"]
    assert dbt_step.count("STEP_START") == 1 and "STEP_UP_FOR_RETRY" not in dbt_step
    assert materialized(result) == {"staging/stg_customers", "staging/stg_orders", "staging/stg_payments"}
    failed = {name for name, e in checks(result).items() if not e.passed}
    assert failed == {check for _, check in GUARDS.values()}
    bad = warehouse_in(local_dir)
    for table in ("orders", "customers", "customer_cohorts"):
        assert bad.read_sql(f"SELECT * FROM marts.{table}").equals(good_warehouse.read_sql(f"SELECT * FROM marts.{table}"))
    bad.engine().dispose()


def test_payments_reconcile_fails_and_blocks_the_cohorts(good_warehouse):
    # A payment arrives after the marts were built: raw has 99 cents the mart has not.
    late = pd.DataFrame({"payment_id": [6], "order_id": [12], "payment_method": ["coupon"], "amount_cents": [99],
                         "order_date": pd.to_datetime(["2024-01-02"])})
    load_raw(good_warehouse, {"payments": late}, replace=False)
    loaded = defs()
    cohorts_before = good_warehouse.read_sql("SELECT * FROM marts.customer_cohorts")
    good_warehouse.engine().dispose()
    # Without rebuilding the marts (no dbt): the check, and the asset it guards.
    job = loaded.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(["marts", "customer_cohorts"])},
        asset_check_selection={dg.AssetCheckKey(dg.AssetKey(["marts", "orders"]), "payments_reconcile")},
    )
    result = job.execute_in_process(raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["difference"].value == -99
    assert not result.success
    assert materialized(result) == set()
    assert good_warehouse.read_sql("SELECT * FROM marts.customer_cohorts").equals(cohorts_before)
