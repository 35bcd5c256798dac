import dagster as dg
from platform_common import Warehouse

from reports.defs.assets import REFUNDED_STATUSES, daily_revenue


@dg.asset_check(
    asset=daily_revenue,
    blocking=True,
    description=(
        "reports.daily_revenue adds up to marts.orders: the same number of orders and the same "
        "revenue with returned orders excluded. Blocking: the revenue chart is not redrawn from a bad table."
    ),
)
def daily_revenue_matches_marts(warehouse: Warehouse) -> dg.AssetCheckResult:
    refunded = {f"s{i}": s for i, s in enumerate(REFUNDED_STATUSES)}
    not_refunded = f"status NOT IN ({', '.join(':' + k for k in refunded)})"
    totals = warehouse.read_sql(
        "SELECT (SELECT count(*) FROM marts.orders) AS mart_orders,"
        f" (SELECT coalesce(sum(amount_cents), 0) FROM marts.orders WHERE {not_refunded}) AS mart_cents,"
        " (SELECT coalesce(sum(orders), 0) FROM reports.daily_revenue) AS report_orders,"
        " (SELECT coalesce(sum(revenue_cents), 0) FROM reports.daily_revenue) AS report_cents",
        **refunded,
    ).iloc[0]
    values = {k: int(v) for k, v in totals.items()}
    return dg.AssetCheckResult(
        passed=values["mart_orders"] == values["report_orders"] and values["mart_cents"] == values["report_cents"],
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**values, "difference_cents": values["report_cents"] - values["mart_cents"]},
    )
