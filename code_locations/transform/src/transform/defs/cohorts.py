"""A weekly customer retention matrix, computed by the warehouse from marts.orders.

The warehouse builds the long table (one row per cohort week and week offset)
with one `CREATE TABLE ... AS SELECT`, and swaps it in: the run never holds the
orders, so its memory does not grow with them (docs/performance.md). The same
SQL runs on Postgres and DuckDB. Only the small long table comes back, for the
wide matrix shown in the UI, which SQL cannot pivot without knowing its columns.
"""

import dagster as dg
import sqlalchemy as sa
from platform_common import DataFrame, Warehouse

from transform.defs.assets import MARTS_ORDERS, OWNERS
from platform_common.retries import RETRY_POLICY, permanent_unless_transient

SCHEMA, TABLE = "marts", "customer_cohorts"
COLUMNS = dg.TableSchema(columns=[
    dg.TableColumn("cohort_week", "TIMESTAMP", "Monday of the week of the cohort's first order"),
    dg.TableColumn("weeks_since_first_order", "BIGINT", "0 for the first week"),
    dg.TableColumn("cohort_size", "BIGINT", "customers whose first order was in cohort_week"),
    dg.TableColumn("active_customers", "BIGINT", "of those, customers who ordered that week"),
    dg.TableColumn("retention", "DOUBLE", "active_customers / cohort_size, 0..1"),
])

# Weeks start on Monday (date_trunc('week') on both warehouses); two Mondays are a
# whole number of weeks apart, so the division is exact on both.
#
# Each customer's cohort is a window over their own weeks, not a join back to a
# per-customer aggregate: Postgres estimates a CTE's GROUP BY at 200 rows, sized a
# hash join for that, and at 20M orders (2M customers) the join ran for more than
# 20 minutes. A cohort's size is its customers active in week 0 (every customer is
# active in their first week), so sizes need no second pass over the customers.
RETENTION_SQL = """
WITH weekly AS (
    SELECT DISTINCT customer_id, CAST(date_trunc('week', order_date) AS TIMESTAMP) AS order_week
    FROM marts.orders
    WHERE customer_id IS NOT NULL AND order_date IS NOT NULL
), firsts AS (
    SELECT order_week, min(order_week) OVER (PARTITION BY customer_id) AS cohort_week FROM weekly
), active AS (
    -- weekly has one row per customer and week: count(*) counts customers.
    SELECT cohort_week, CAST((CAST(order_week AS DATE) - CAST(cohort_week AS DATE)) / 7 AS BIGINT) AS offset_weeks,
           count(*) AS active_customers
    FROM firsts
    GROUP BY 1, 2
)
SELECT a.cohort_week,
       a.offset_weeks AS weeks_since_first_order,
       CAST(s.active_customers AS BIGINT) AS cohort_size,
       CAST(a.active_customers AS BIGINT) AS active_customers,
       CAST(a.active_customers AS DOUBLE PRECISION) / s.active_customers AS retention
FROM active AS a JOIN active AS s ON s.cohort_week = a.cohort_week AND s.offset_weeks = 0
ORDER BY 1, 2
"""


def build(conn: sa.Connection) -> None:
    """Replace marts.customer_cohorts in the caller's transaction: built under another
    name and swapped in at the end, so readers see the old table until the commit."""
    if conn.dialect.name == "postgresql":
        # The key the platform's WarehouseIOManager takes for a schema: writers take turns.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"warehouse:{SCHEMA}"})
        # dbt has just replaced marts.orders: without statistics the planner guesses
        # 200 groups for every GROUP BY. Sampling it takes well under a second.
        conn.execute(sa.text(f'ANALYZE "{SCHEMA}"."orders"'))
    building = f'"{SCHEMA}"."{TABLE}__building"'
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {building}"))
    conn.execute(sa.text(f"CREATE TABLE {building} AS {RETENTION_SQL}"))
    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{SCHEMA}"."{TABLE}"'))
    conn.execute(sa.text(f'ALTER TABLE {building} RENAME TO "{TABLE}"'))


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
        lines.append(f"| {pd.Timestamp(week):%Y-%m-%d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dg.asset(
    key=[SCHEMA, TABLE],
    deps=[MARTS_ORDERS],
    group_name="marts",
    owners=OWNERS,
    kinds={"sql", "postgres"},
    code_version="1",
    retry_policy=RETRY_POLICY,
    metadata={"dagster/column_schema": COLUMNS},
    description=(
        "Weekly retention: customers grouped by the week of their first order, and the share of "
        "each cohort that ordered again N weeks later."
    ),
)
def customer_cohorts(warehouse: Warehouse) -> dg.MaterializeResult:
    with permanent_unless_transient(f"{SCHEMA}.{TABLE}"):
        with warehouse.begin() as conn:
            build(conn)
        # A few rows per cohort week: small at any number of orders.
        long = warehouse.read_sql(f'SELECT * FROM "{SCHEMA}"."{TABLE}" ORDER BY cohort_week, weeks_since_first_order')
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(len(long)),
            "dagster/column_schema": dg.MetadataValue.table_schema(COLUMNS),
            "dagster/table_name": dg.MetadataValue.text(f"warehouse.{SCHEMA}.{TABLE}"),
            "preview": warehouse.preview(SCHEMA, TABLE),
            "retention_matrix": dg.MetadataValue.md(matrix_markdown(long)),
        })
