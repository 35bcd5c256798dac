import dagster as dg
import pandas as pd
import pytest
from conftest import MARTS_ORDERS, seed
from platform_common import WarehouseIOManager

from reports.defs.assets import (
    CUSTOMER_SUMMARY_SCHEMA,
    DAILY_REVENUE_SCHEMA,
    MONTHLY_REVENUE_SCHEMA,
    ORDERS_BY_STATUS_SCHEMA,
    customer_summary,
    daily_revenue,
    monthly_revenue,
    orders_by_status,
    upstream,
)
from reports.defs.checks import daily_revenue_matches_marts

ALL = [*upstream, daily_revenue, orders_by_status, customer_summary, monthly_revenue, daily_revenue_matches_marts]


def build(warehouse, selection, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ALL,
        selection=selection,
        resources={"io_manager": WarehouseIOManager(warehouse=warehouse), "warehouse": warehouse},
        **kwargs,
    )


def test_daily_revenue_excludes_refunds(warehouse):
    assert build(warehouse, [daily_revenue]).success
    report = warehouse.read_sql("SELECT * FROM reports.daily_revenue ORDER BY order_date")
    assert report["order_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01", "2024-01-02", "2024-01-31", "2024-02-01", "2024-02-15", "2024-03-10",
    ]
    assert report["orders"].tolist() == [2, 1, 1, 1, 1, 1]
    assert report["revenue_cents"].tolist() == [1000, 300, 200, 700, 400, 0]


def test_orders_by_status_lists_every_status(warehouse):
    assert build(warehouse, [orders_by_status]).success
    report = warehouse.read_sql("SELECT * FROM reports.orders_by_status")
    assert report["status"].tolist() == ["placed", "shipped", "completed", "return_pending", "returned"]
    assert report["orders"].tolist() == [1, 1, 2, 1, 2]
    assert report["amount_cents"].tolist() == [700, 300, 1200, 400, 1400]
    assert report["share_of_orders"].sum() == pytest.approx(1.0)


def test_orders_by_status_keeps_a_status_it_does_not_know(warehouse):
    seed(warehouse, "marts", "orders", MARTS_ORDERS.assign(status=["lost", *MARTS_ORDERS["status"][1:]]))
    assert build(warehouse, [orders_by_status]).success
    report = warehouse.read_sql("SELECT status, orders FROM reports.orders_by_status")
    assert report.values.tolist()[-1] == ["lost", 1]
    assert dict(report.values.tolist())["completed"] == 1


def test_customer_summary(warehouse):
    assert build(warehouse, [customer_summary]).success
    report = warehouse.read_sql("SELECT * FROM reports.customer_summary ORDER BY customer_id").set_index("customer_id")
    assert report["segment"].to_dict() == {1: "repeat", 2: "repeat", 3: "new", 4: "no orders", 5: "new"}
    assert report["returned_orders"].to_dict() == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0}
    assert report["net_revenue_cents"].to_dict() == {1: 1300, 2: 700, 3: 200, 4: 0, 5: 400}
    assert report.loc[4, "first_order"] is pd.NaT


def test_monthly_partition_holds_only_its_month(warehouse):
    result = build(warehouse, [monthly_revenue], partition_key="2024-01-01")
    assert result.success
    report = warehouse.read_sql("SELECT * FROM reports.monthly_revenue")
    assert report.to_dict("records") == [
        {"month": pd.Timestamp("2024-01-01"), "orders": 4, "returned_orders": 1, "revenue_cents": 1500}
    ]


def test_rerunning_a_month_replaces_only_that_month(warehouse):
    for month in ("2024-01-01", "2024-02-01", "2024-03-01"):
        assert build(warehouse, [monthly_revenue], partition_key=month).success
    # Transform rebuilds marts.orders: February's placed order is now completed and doubled.
    changed = MARTS_ORDERS.copy()
    changed.loc[changed["order_id"] == 5, "amount_cents"] = 1400
    changed.loc[changed["order_id"] == 1, "amount_cents"] = 9999  # January: must stay as built
    seed(warehouse, "marts", "orders", changed)
    assert build(warehouse, [monthly_revenue], partition_key="2024-02-01").success

    report = warehouse.read_sql("SELECT * FROM reports.monthly_revenue ORDER BY month")
    assert report["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-03"]
    assert report["orders"].tolist() == [4, 2, 1]
    assert report["revenue_cents"].tolist() == [1500, 1800, 0]


def test_a_month_without_orders_is_a_row_of_zeros(warehouse):
    assert build(warehouse, [monthly_revenue], partition_key="2024-06-01").success
    report = warehouse.read_sql("SELECT * FROM reports.monthly_revenue")
    assert report.values.tolist() == [[pd.Timestamp("2024-06-01"), 0, 0, 0]]


def test_declared_column_schemas_match_the_tables(warehouse):
    assert build(warehouse, [daily_revenue, orders_by_status, customer_summary]).success
    assert build(warehouse, [monthly_revenue], partition_key="2024-01-01").success
    for table, schema in [
        ("daily_revenue", DAILY_REVENUE_SCHEMA),
        ("orders_by_status", ORDERS_BY_STATUS_SCHEMA),
        ("customer_summary", CUSTOMER_SUMMARY_SCHEMA),
        ("monthly_revenue", MONTHLY_REVENUE_SCHEMA),
    ]:
        columns = warehouse.read_sql(f"SELECT * FROM reports.{table} LIMIT 0").columns.tolist()
        assert columns == [c.name for c in schema.columns], table


def test_tables_report_row_count_and_column_schema(warehouse):
    result = build(warehouse, [daily_revenue])
    [mat] = [e.materialization for e in result.get_asset_materialization_events()]
    assert mat.metadata["dagster/row_count"].value == 6
    assert [c.name for c in mat.metadata["dagster/column_schema"].value.columns] == [
        "order_date", "orders", "revenue_cents",
    ]


# ------------------------------------------------------------------- guards


@pytest.mark.parametrize("asset", [daily_revenue, orders_by_status, customer_summary])
def test_empty_marts_orders_fails_and_keeps_the_previous_report(warehouse, asset):
    assert build(warehouse, [asset]).success
    table = asset.key.path[-1]
    before = warehouse.read_sql(f"SELECT * FROM reports.{table}")
    seed(warehouse, "marts", "orders", MARTS_ORDERS.iloc[0:0])

    result = build(warehouse, [asset], raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "marts.orders has no rows" in failure.step_failure_data.error.message
    pd.testing.assert_frame_equal(warehouse.read_sql(f"SELECT * FROM reports.{table}"), before)


def test_marts_orders_missing_a_column_names_it(warehouse):
    seed(warehouse, "marts", "orders", MARTS_ORDERS.drop(columns=["status"]))
    result = build(warehouse, [daily_revenue], raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "marts.orders is missing column(s) status" in failure.step_failure_data.error.message


def test_monthly_revenue_fails_when_marts_orders_is_empty(warehouse):
    seed(warehouse, "marts", "orders", MARTS_ORDERS.iloc[0:0])
    result = build(warehouse, [monthly_revenue], partition_key="2024-01-01", raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "marts.orders has no rows" in failure.step_failure_data.error.message


def test_monthly_revenue_without_a_month_fails_clearly(warehouse):
    result = build(warehouse, [monthly_revenue], raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "partitioned by month" in failure.step_failure_data.error.message


def test_revenue_check_passes_on_a_fresh_report(warehouse):
    result = build(warehouse, [daily_revenue, daily_revenue_matches_marts])
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.metadata["report_cents"].value == evaluation.metadata["mart_cents"].value == 2600


def test_revenue_check_fails_when_the_report_disagrees_with_the_marts(warehouse):
    assert build(warehouse, [daily_revenue]).success
    seed(warehouse, "marts", "orders", MARTS_ORDERS.assign(amount_cents=MARTS_ORDERS["amount_cents"] + 1))
    result = build(warehouse, dg.AssetSelection.checks(daily_revenue_matches_marts), raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["difference_cents"].value == -5  # five kept orders, one cent each


def test_marts_orders_missing_altogether_says_so_and_keeps_the_previous_report(warehouse):
    assert build(warehouse, [daily_revenue]).success
    with warehouse.begin() as conn:
        conn.exec_driver_sql("DROP TABLE marts.orders")
    result = build(warehouse, [daily_revenue], raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "marts.orders does not exist: has transform_job run?" in failure.step_failure_data.error.message
    assert warehouse.read_sql("SELECT count(*) AS n FROM reports.daily_revenue")["n"][0] == 6


def test_materializations_preview_the_rows_written(warehouse):
    result = build(warehouse, [daily_revenue])
    [mat] = [e.materialization for e in result.get_asset_materialization_events()]
    preview = mat.metadata["preview"].value.splitlines()
    assert preview[:3] == ["| order_date | orders | revenue_cents |", "|---|---|---|", "| 2024-01-01 00:00:00 | 2 | 1000 |"]
    assert len(preview) == 2 + 5
    assert mat.metadata["dagster/table_name"].value == "warehouse.reports.daily_revenue"
    monthly = build(warehouse, [monthly_revenue], partition_key="2024-02-01")
    [mat] = [e.materialization for e in monthly.get_asset_materialization_events()]
    assert mat.metadata["preview"].value.splitlines()[2:] == ["| 2024-02-01 00:00:00 | 2 | 0 | 1100 |"]
    assert (mat.metadata["dagster/row_count"].value, mat.metadata["months"].value) == (1, 1)
    assert mat.metadata["revenue_cents"].value == 1100
