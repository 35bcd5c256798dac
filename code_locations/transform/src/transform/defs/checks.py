import dagster as dg
import sqlalchemy as sa
from platform_common import Warehouse

from platform_common.retries import permanent_unless_transient

TOTALS_SQL = """
SELECT (SELECT coalesce(sum(amount_cents), 0) FROM raw.payments) AS raw_cents,
       (SELECT coalesce(sum(amount_cents), 0) FROM marts.orders) AS mart_cents
"""


@dg.asset_check(
    asset=dg.AssetKey(["marts", "orders"]),
    blocking=True,
    description="Every cent paid in raw.payments appears in marts.orders, and nothing else.",
)
def payments_reconcile(warehouse: Warehouse) -> dg.AssetCheckResult:
    with permanent_unless_transient("the check payments_reconcile"), warehouse.begin() as conn:
        totals = conn.execute(sa.text(TOTALS_SQL)).mappings().one()
    raw_cents, mart_cents = int(totals["raw_cents"]), int(totals["mart_cents"])
    return dg.AssetCheckResult(
        passed=raw_cents == mart_cents,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"raw_cents": raw_cents, "mart_cents": mart_cents, "difference": mart_cents - raw_cents},
    )
