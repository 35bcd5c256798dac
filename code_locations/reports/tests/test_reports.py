import dagster as dg
import pandas as pd
from platform_common import Warehouse, WarehouseIOManager
from platform_common.warehouse import insert_rows, write_table

from reports.definitions import defs
from reports.defs.assets import daily_revenue, upstream

MARTS_ORDERS = pd.DataFrame(
    {
        "order_id": [1, 2, 3, 4],
        "customer_id": [1, 2, 1, 3],
        "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"]),
        "status": ["completed", "returned", "shipped", "completed"],
        "amount_cents": [1000, 500, 300, 200],
    }
)


def test_definitions_load():
    loaded = defs()
    assert "reports/daily_revenue" in {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert loaded.resolve_job_def("reports_job")


def test_daily_revenue_excludes_refunds(tmp_path):
    warehouse = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))
    with warehouse.begin() as conn:
        write_table(conn, MARTS_ORDERS, "marts", "orders", replace=True)
        insert_rows(conn, MARTS_ORDERS, "marts", "orders")
    result = dg.materialize(
        [*upstream, daily_revenue],
        selection=[daily_revenue],
        resources={"io_manager": WarehouseIOManager(warehouse=warehouse)},
    )
    assert result.success
    report = warehouse.read_sql("SELECT * FROM reports.daily_revenue ORDER BY order_date")
    assert report["orders"].tolist() == [2, 2]
    assert report["revenue_cents"].tolist() == [1000, 500]
