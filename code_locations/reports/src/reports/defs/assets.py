"""Report tables a BI tool can query, built from transform's marts by asset key.

Each table is computed by the warehouse (`INSERT ... SELECT`, reports.defs.warehouse_sql)
and replaced in one transaction; a partition of `monthly_revenue` replaces only its
month. The run reads back a count and a preview, never the marts themselves, so
its memory stays the same at any size. A guard that raises leaves the previous
table in place.
"""

from datetime import datetime

import dagster as dg
import sqlalchemy as sa
from platform_common import Warehouse

from reports.defs import warehouse_sql as sql
from platform_common.retries import RETRY_POLICY, permanent_unless_transient

OWNERS = ["team:reports"]
TABLE_KINDS = {"sql", "postgres"}
MARTS_ORDERS = dg.AssetKey(["marts", "orders"])
MARTS_CUSTOMERS = dg.AssetKey(["marts", "customers"])
SCHEMA = "reports"

STATUSES = ("placed", "shipped", "completed", "return_pending", "returned")
# Revenue counts what the shop kept: returned orders are refunded.
REFUNDED_STATUSES = ("returned",)
REFUNDED = sql.in_list(REFUNDED_STATUSES)
KEPT_CENTS = f"CASE WHEN status IN ({REFUNDED}) THEN 0 ELSE amount_cents END"
ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "status", "amount_cents")
CUSTOMER_COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "first_order",
    "most_recent_order",
    "number_of_orders",
    "lifetime_value_cents",
)

# UTC like ingest's daily partitions. end_offset=1 adds the month in progress, so
# month-to-date revenue is reported and re-running that month refreshes it.
MONTHLY = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", timezone="UTC", end_offset=1)

# Owned and materialized by the transform location; declared here by key so the
# lineage graph joins across locations.
upstream = [dg.AssetSpec(key, group_name="marts", owners=["team:transform"]) for key in (MARTS_ORDERS, MARTS_CUSTOMERS)]


def columns(*spec: tuple[str, str, str]) -> dg.TableSchema:
    """The declared shape of a report table: (name, SQL type, description) per column."""
    return dg.TableSchema(columns=[dg.TableColumn(name, type, description) for name, type, description in spec])


def build_table(
    warehouse: Warehouse,
    table: str,
    schema: dg.TableSchema,
    select: str,
    sources: dict[tuple[str, str], tuple[str, ...]],
    order_by: str | None = None,
) -> dg.MaterializeResult:
    """Check the `sources` ({(schema, table): columns needed}), then replace reports.<table>
    with the rows of `select`. The preview lists rows by `order_by`, or as stored."""
    with permanent_unless_transient(f"{SCHEMA}.{table}"), warehouse.begin() as conn:
        for (source_schema, source_table), needed in sources.items():
            sql.require_rows(conn, source_schema, source_table, needed)
        sql.replace_table(conn, SCHEMA, table, schema, select, {})
        metadata = sql.table_metadata(conn, SCHEMA, table, schema, order_by=order_by)
    return dg.MaterializeResult(metadata=metadata)


DAILY_REVENUE_SCHEMA = columns(
    ("order_date", "TIMESTAMP", "the day orders were placed (midnight)"),
    ("orders", "BIGINT", "orders placed that day, returned ones included"),
    ("revenue_cents", "BIGINT", "amount paid for that day's orders, returned orders excluded"),
)

DAILY_REVENUE_SQL = f"""
SELECT CAST(date_trunc('day', order_date) AS TIMESTAMP) AS order_date,
       count(order_id) AS orders,
       coalesce(sum({KEPT_CENTS}), 0) AS revenue_cents
FROM marts.orders
WHERE order_date IS NOT NULL
GROUP BY 1
ORDER BY 1
"""


@dg.asset(
    key=["reports", "daily_revenue"],
    deps=[MARTS_ORDERS],
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    retry_policy=RETRY_POLICY,
    metadata={"dagster/column_schema": DAILY_REVENUE_SCHEMA},
    description="Orders and revenue (cents, refunds excluded) per order date.",
)
def daily_revenue(warehouse: Warehouse) -> dg.MaterializeResult:
    return build_table(
        warehouse, "daily_revenue", DAILY_REVENUE_SCHEMA, DAILY_REVENUE_SQL, {("marts", "orders"): ORDER_COLUMNS},
        order_by="order_date",
    )


ORDERS_BY_STATUS_SCHEMA = columns(
    ("status", "TEXT", "placed, shipped, completed, return_pending or returned"),
    ("orders", "BIGINT", "orders currently in this status"),
    ("amount_cents", "BIGINT", "amount paid for those orders"),
    ("share_of_orders", "DOUBLE", "orders / all orders, 0..1"),
)

KNOWN_STATUSES = ", ".join(f"({sql.in_list([status])}, {i})" for i, status in enumerate(STATUSES))
# Known statuses first, in the shop's order; any other after them by code point
# (COLLATE "C": the same order on both warehouses, whatever the database's locale).
ORDERS_BY_STATUS_SQL = f"""
WITH known (status, position) AS (VALUES {KNOWN_STATUSES}),
counted AS (
    SELECT status, count(order_id) AS orders, coalesce(sum(amount_cents), 0) AS amount_cents
    FROM marts.orders
    WHERE status IS NOT NULL
    GROUP BY status
),
listed AS (
    SELECT coalesce(known.status, counted.status) AS status, known.position,
           coalesce(counted.orders, 0) AS orders, coalesce(counted.amount_cents, 0) AS amount_cents
    FROM known FULL OUTER JOIN counted ON counted.status = known.status
)
SELECT status, orders, amount_cents,
       CAST(orders AS DOUBLE PRECISION) / NULLIF(CAST(sum(orders) OVER () AS DOUBLE PRECISION), 0) AS share_of_orders
FROM listed
ORDER BY position NULLS LAST, status COLLATE "C"
"""


@dg.asset(
    key=["reports", "orders_by_status"],
    deps=[MARTS_ORDERS],
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    retry_policy=RETRY_POLICY,
    metadata={"dagster/column_schema": ORDERS_BY_STATUS_SCHEMA},
    description=(
        "Order count and amount per order status. Every known status has a row (zero when "
        "no order has it); a status transform adds later appears after them."
    ),
)
def orders_by_status(warehouse: Warehouse) -> dg.MaterializeResult:
    return build_table(
        warehouse, "orders_by_status", ORDERS_BY_STATUS_SCHEMA, ORDERS_BY_STATUS_SQL, {("marts", "orders"): ORDER_COLUMNS}
    )


CUSTOMER_SUMMARY_SCHEMA = columns(
    ("customer_id", "BIGINT", "the customer"),
    ("first_name", "TEXT", "as in marts.customers"),
    ("last_name", "TEXT", "as in marts.customers"),
    ("segment", "TEXT", "no orders, new (one order) or repeat (two or more)"),
    ("number_of_orders", "BIGINT", "orders placed, returned ones included"),
    ("returned_orders", "BIGINT", "orders in status returned"),
    ("lifetime_value_cents", "BIGINT", "amount paid over all orders, as in marts.customers"),
    ("net_revenue_cents", "BIGINT", "lifetime value minus returned orders"),
    ("first_order", "TIMESTAMP", "empty for customers without orders"),
    ("most_recent_order", "TIMESTAMP", "empty for customers without orders"),
)

CUSTOMER_SUMMARY_SQL = f"""
WITH returned AS (
    SELECT customer_id, count(order_id) AS returned_orders, coalesce(sum(amount_cents), 0) AS refunded_cents
    FROM marts.orders
    WHERE status IN ({REFUNDED})
    GROUP BY customer_id
)
SELECT c.customer_id, c.first_name, c.last_name,
       CASE WHEN c.number_of_orders = 0 THEN 'no orders' WHEN c.number_of_orders = 1 THEN 'new' ELSE 'repeat' END
           AS segment,
       c.number_of_orders,
       coalesce(r.returned_orders, 0) AS returned_orders,
       c.lifetime_value_cents,
       c.lifetime_value_cents - coalesce(r.refunded_cents, 0) AS net_revenue_cents,
       CAST(c.first_order AS TIMESTAMP) AS first_order,
       CAST(c.most_recent_order AS TIMESTAMP) AS most_recent_order
FROM marts.customers AS c
LEFT JOIN returned AS r ON r.customer_id = c.customer_id
ORDER BY c.customer_id
"""


@dg.asset(
    key=["reports", "customer_summary"],
    deps=[MARTS_CUSTOMERS, MARTS_ORDERS],
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    retry_policy=RETRY_POLICY,
    metadata={"dagster/column_schema": CUSTOMER_SUMMARY_SCHEMA},
    description="One row per customer: segment, orders, returns, lifetime value and net revenue (cents).",
)
def customer_summary(warehouse: Warehouse) -> dg.MaterializeResult:
    return build_table(
        warehouse, "customer_summary", CUSTOMER_SUMMARY_SCHEMA, CUSTOMER_SUMMARY_SQL,
        {("marts", "customers"): CUSTOMER_COLUMNS, ("marts", "orders"): ORDER_COLUMNS},
        order_by="customer_id",
    )


MONTHLY_REVENUE_SCHEMA = columns(
    ("month", "TIMESTAMP", "first day of the month (UTC); the partition column"),
    ("orders", "BIGINT", "orders placed in the month, returned ones included"),
    ("returned_orders", "BIGINT", "of those, orders in status returned"),
    ("revenue_cents", "BIGINT", "amount paid for the month's orders, returned orders excluded"),
)

# {months}: one `(CAST(:mN AS TIMESTAMP))` per month of the run, so a month
# without orders still gets its row of zeros.
MONTHLY_REVENUE_SQL = f"""
WITH months (month) AS (VALUES {{months}}),
counted AS (
    SELECT CAST(date_trunc('month', order_date) AS TIMESTAMP) AS month,
           count(order_id) AS orders,
           sum(CASE WHEN status IN ({REFUNDED}) THEN 1 ELSE 0 END) AS returned_orders,
           coalesce(sum({KEPT_CENTS}), 0) AS revenue_cents
    FROM marts.orders
    WHERE order_date >= :start AND order_date < :end
    GROUP BY 1
)
SELECT months.month, coalesce(counted.orders, 0) AS orders,
       coalesce(counted.returned_orders, 0) AS returned_orders, coalesce(counted.revenue_cents, 0) AS revenue_cents
FROM months
LEFT JOIN counted ON counted.month = months.month
ORDER BY months.month
"""
IN_WINDOW = '"month" >= :start AND "month" < :end'


@dg.asset(
    key=["reports", "monthly_revenue"],
    deps=[MARTS_ORDERS],
    partitions_def=MONTHLY,
    # A range of months (a backfill, or the sensor's run after each transform) runs
    # as one step, which replaces all those months in one transaction.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    retry_policy=RETRY_POLICY,
    metadata={"partition_expr": "month", "dagster/column_schema": MONTHLY_REVENUE_SCHEMA},
    description=(
        "Orders and revenue (cents, refunds excluded) per calendar month, one partition per "
        "month. Reads only its months' rows of marts.orders; a month without orders has a row of zeros."
    ),
)
def monthly_revenue(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(
            "reports/monthly_revenue is partitioned by month: launch it (or reports_job) for a month "
            "or a range of months. The reports_after_transform sensor launches every month.",
            allow_retries=False,
        )
    window = context.partition_time_window
    months = {f"m{i}": datetime.fromisoformat(key) for i, key in enumerate(context.partition_keys)}
    params = {"start": window.start.replace(tzinfo=None), "end": window.end.replace(tzinfo=None), **months}
    select = MONTHLY_REVENUE_SQL.format(months=", ".join(f"(CAST(:{name} AS TIMESTAMP))" for name in months))
    table = "monthly_revenue"
    with permanent_unless_transient(f"{SCHEMA}.{table}"), warehouse.begin() as conn:
        # An empty month is normal; an empty marts.orders is a broken upstream.
        sql.require_rows(conn, "marts", "orders", ORDER_COLUMNS)
        sql.replace_rows(conn, SCHEMA, table, MONTHLY_REVENUE_SCHEMA, IN_WINDOW, select, params)
        metadata = sql.table_metadata(conn, SCHEMA, table, MONTHLY_REVENUE_SCHEMA, IN_WINDOW, params, order_by="month")
        revenue = conn.execute(
            sa.text(f"SELECT coalesce(sum(revenue_cents), 0) FROM {SCHEMA}.{table} WHERE {IN_WINDOW}"), params
        ).scalar_one()
    return dg.MaterializeResult(
        metadata={**metadata, "months": len(months), "revenue_cents": int(revenue)}
    )


tables = [daily_revenue, orders_by_status, customer_summary, monthly_revenue]
