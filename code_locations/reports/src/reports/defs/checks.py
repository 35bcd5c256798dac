import dagster as dg
import sqlalchemy as sa
from platform_common import Warehouse

from reports.defs.assets import REFUNDED, daily_revenue
from platform_common.retries import permanent_unless_transient

TOTALS_SQL = f"""
SELECT (SELECT count(*) FROM marts.orders) AS mart_orders,
       (SELECT coalesce(sum(amount_cents), 0) FROM marts.orders WHERE status NOT IN ({REFUNDED})) AS mart_cents,
       (SELECT coalesce(sum(orders), 0) FROM reports.daily_revenue) AS report_orders,
       (SELECT coalesce(sum(revenue_cents), 0) FROM reports.daily_revenue) AS report_cents
"""


@dg.asset_check(
    asset=daily_revenue,
    blocking=True,
    description=(
        "reports.daily_revenue adds up to marts.orders: the same number of orders and the same "
        "revenue with returned orders excluded. Blocking: the revenue chart is not redrawn from a bad table."
    ),
)
def daily_revenue_matches_marts(warehouse: Warehouse) -> dg.AssetCheckResult:
    with permanent_unless_transient("the check daily_revenue_matches_marts"), warehouse.begin() as conn:
        totals = conn.execute(sa.text(TOTALS_SQL)).mappings().one()
    values = {k: int(v) for k, v in totals.items()}
    return dg.AssetCheckResult(
        passed=values["mart_orders"] == values["report_orders"] and values["mart_cents"] == values["report_cents"],
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**values, "difference_cents": values["report_cents"] - values["mart_cents"]},
    )
