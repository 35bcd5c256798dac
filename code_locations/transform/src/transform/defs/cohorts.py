"""A weekly customer retention matrix, computed with DuckDB from marts.orders.

DuckDB rather than Polars: it is already in the image (platform-common reads and
writes Parquet with it), and Polars alone added 172 MB to it (docs/performance.md)."""

import dagster as dg
from platform_common import DataFrame, Warehouse

from transform.defs.assets import MARTS_ORDERS, OWNERS

# DuckDB and pandas are imported where they are used: they load when the asset
# runs, not with the definitions, so dbt's runs and the code server skip them
# (docs/performance.md).

COLUMNS = ["cohort_week", "weeks_since_first_order", "cohort_size", "active_customers", "retention"]

RETENTION_SQL = """
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


def retention(orders: DataFrame) -> DataFrame:
    """One row per (cohort week, weeks since first order): how many of the cohort ordered.
    Weeks start on Monday."""
    import duckdb

    with duckdb.connect() as con:
        con.register("orders", orders)
        long = con.sql(RETENTION_SQL).df()
    return long[COLUMNS].astype({
        "cohort_week": "datetime64[us]", "weeks_since_first_order": "int64",
        "cohort_size": "int64", "active_customers": "int64", "retention": "float64",
    })


def matrix_markdown(long: DataFrame) -> str:
    """The wide matrix (a column per week offset), which SQL cannot pivot without knowing the columns."""
    import pandas as pd

    if long.empty:
        return "_no orders yet_"
    wide = long.pivot(index="cohort_week", columns="weeks_since_first_order", values="retention").sort_index(axis=1)
    offsets = list(wide.columns)
    lines = ["| cohort week | " + " | ".join(f"+{o}w" for o in offsets) + " |", "|---" * (len(offsets) + 1) + "|"]
    for week, row in wide.iterrows():
        cells = ["" if pd.isna(row[o]) else f"{row[o]:.0%}" for o in offsets]
        lines.append(f"| {week:%Y-%m-%d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def orders_frame(frame: DataFrame) -> DataFrame:
    """customer_id as int64 and order_date as naive UTC datetime64[us], whatever the
    driver gave: Postgres gives object dates or nullable ints where DuckDB gives
    datetime64 and int64."""
    import pandas as pd

    dates = pd.to_datetime(frame["order_date"])
    if dates.dt.tz is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy(dtype="int64"),
        "order_date": dates.to_numpy(dtype="datetime64[us]"),
    })


@dg.asset(
    key=["marts", "customer_cohorts"],
    deps=[MARTS_ORDERS],
    group_name="marts",
    owners=OWNERS,
    kinds={"duckdb", "postgres"},
    code_version="1",
    description=(
        "Weekly retention: customers grouped by the week of their first order, and the share of "
        "each cohort that ordered again N weeks later."
    ),
)
def customer_cohorts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> DataFrame:
    orders = orders_frame(warehouse.read_sql("SELECT customer_id, order_date FROM marts.orders"))
    long = retention(orders)
    context.add_output_metadata({"retention_matrix": dg.MetadataValue.md(matrix_markdown(long))})
    return long
