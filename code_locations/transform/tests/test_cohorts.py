"""marts/customer_cohorts, computed by the warehouse: the retention the DuckDB-over-pandas
code it replaced computed, on weeks that start on Monday, with nothing read into the run."""

import random

import dagster as dg
import pandas as pd
import pytest
from platform_common import Warehouse
from platform_common.warehouse import insert_rows, write_table

from transform.defs.cohorts import COLUMNS, customer_cohorts, matrix_markdown

# The computation as it was (git history: transform/defs/cohorts.py before it moved
# to the warehouse): DuckDB over the orders read into pandas.
OLD_RETENTION_SQL = """
WITH weekly AS (
    SELECT customer_id, date_trunc('week', order_date) AS order_week FROM orders
), cohorts AS (
    SELECT customer_id, min(order_week) AS cohort_week FROM weekly GROUP BY customer_id
), sizes AS (
    SELECT cohort_week, count(*) AS cohort_size FROM cohorts GROUP BY cohort_week
)
SELECT
    c.cohort_week,
    CAST(date_diff('day', c.cohort_week, w.order_week) // 7 AS BIGINT) AS weeks_since_first_order,
    s.cohort_size,
    count(DISTINCT w.customer_id) AS active_customers,
    CAST(count(DISTINCT w.customer_id) AS DOUBLE) / s.cohort_size AS retention
FROM weekly AS w
JOIN cohorts AS c USING (customer_id)
JOIN sizes AS s USING (cohort_week)
GROUP BY c.cohort_week, weeks_since_first_order, s.cohort_size
ORDER BY cohort_week, weeks_since_first_order
"""


def old_retention(orders: pd.DataFrame) -> pd.DataFrame:
    import duckdb

    with duckdb.connect() as con:
        con.register("orders", orders[["customer_id", "order_date"]])
        return con.sql(OLD_RETENTION_SQL).df()


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb"))


def seed_orders(warehouse: Warehouse, orders: pd.DataFrame) -> None:
    with warehouse.begin() as conn:
        write_table(conn, orders, "marts", "orders", replace=True)
        insert_rows(conn, orders, "marts", "orders")


def build(warehouse: Warehouse) -> dg.MaterializeResult:
    result = dg.materialize([customer_cohorts], resources={"warehouse": warehouse})
    assert result.success
    [mat] = result.get_asset_materialization_events()
    return mat.materialization


def cohorts(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.read_sql("SELECT * FROM marts.customer_cohorts ORDER BY cohort_week, weeks_since_first_order")


def orders_over(days: list[str], n: int = 400, customers: int = 50) -> pd.DataFrame:
    rng = random.Random(7)
    stamps = [pd.Timestamp(rng.choice(days)) + pd.Timedelta(minutes=rng.randrange(24 * 60)) for _ in range(n)]
    return pd.DataFrame({"order_id": range(1, n + 1), "customer_id": [rng.randint(1, customers) for _ in range(n)],
                         "order_date": stamps})


def test_retention_is_what_the_duckdb_over_pandas_code_computed(warehouse):
    # Sundays and Mondays on either side of week boundaries, across a year end.
    days = ["2024-01-07", "2024-01-08", "2024-01-14", "2024-01-15", "2024-02-29",
            "2024-12-29", "2024-12-30", "2025-01-05", "2025-01-06", "2025-03-03"]
    orders = orders_over(days)
    seed_orders(warehouse, orders)
    build(warehouse)
    pd.testing.assert_frame_equal(cohorts(warehouse), old_retention(orders), check_dtype=False, check_exact=True)


def test_a_sunday_and_the_next_monday_are_different_weeks(warehouse):
    seed_orders(warehouse, pd.DataFrame({
        "order_id": [1, 2, 3, 4],
        "customer_id": [1, 1, 2, 2],
        "order_date": pd.to_datetime(["2024-01-07 23:59", "2024-01-08 00:00", "2024-01-01 00:00", "2024-01-07 12:00"]),
    }))
    mat = build(warehouse)
    rows = cohorts(warehouse)
    assert rows["cohort_week"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-01"]
    # Customers 1 (Sun 7th) and 2 (Mon 1st, Sun 7th) both start in the week of Monday the 1st;
    # only customer 1 ordered in the week of Monday the 8th.
    assert rows[["weeks_since_first_order", "active_customers", "cohort_size"]].values.tolist() == [[0, 2, 2], [1, 1, 2]]
    assert mat.metadata["dagster/row_count"].value == 2
    assert mat.metadata["retention_matrix"].value.splitlines()[2] == "| 2024-01-01 | 100% | 50% |"


def test_the_table_has_the_declared_columns_and_types(warehouse):
    seed_orders(warehouse, orders_over(["2024-01-01", "2024-01-09"]))
    mat = build(warehouse)
    found = warehouse.read_sql("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = 'marts' AND table_name = 'customer_cohorts' ORDER BY ordinal_position")
    # DuckDB's names; Postgres says timestamp without time zone and double precision.
    named = {"TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP", "DOUBLE PRECISION": "DOUBLE"}
    assert [(n, named.get(t.upper(), t.upper())) for n, t in zip(found["column_name"], found["data_type"], strict=True)] == [
        (c.name, c.type) for c in COLUMNS.columns]
    assert [c.name for c in mat.metadata["dagster/column_schema"].schema.columns] == [c.name for c in COLUMNS.columns]
    assert mat.metadata["dagster/table_name"].value == "warehouse.marts.customer_cohorts"
    assert mat.metadata["preview"].value.startswith("| cohort_week | weeks_since_first_order |")


def test_a_rebuild_replaces_the_table_and_leaves_nothing_half_built(warehouse):
    seed_orders(warehouse, orders_over(["2024-01-01", "2024-01-09"]))
    build(warehouse)
    seed_orders(warehouse, orders_over(["2024-03-04"], n=10, customers=3))
    build(warehouse)
    assert cohorts(warehouse)["cohort_week"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2024-03-04"]
    tables = warehouse.read_sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'")
    assert sorted(tables["table_name"]) == ["customer_cohorts", "orders"]


def test_no_orders_is_an_empty_table_and_says_so(warehouse):
    seed_orders(warehouse, orders_over(["2024-01-01"]).iloc[0:0])
    mat = build(warehouse)
    assert cohorts(warehouse).empty
    assert mat.metadata["retention_matrix"].value == "_no orders yet_" == matrix_markdown(cohorts(warehouse))
