import dagster as dg
from platform_common import Warehouse


@dg.asset_check(
    asset=dg.AssetKey(["marts", "orders"]),
    blocking=True,
    description="Every cent paid in raw.payments appears in marts.orders, and nothing else.",
)
def payments_reconcile(warehouse: Warehouse) -> dg.AssetCheckResult:
    totals = warehouse.read_sql(
        "SELECT (SELECT coalesce(sum(amount_cents), 0) FROM raw.payments) AS raw_cents,"
        " (SELECT coalesce(sum(amount_cents), 0) FROM marts.orders) AS mart_cents"
    ).iloc[0]
    raw_cents, mart_cents = int(totals["raw_cents"]), int(totals["mart_cents"])
    return dg.AssetCheckResult(
        passed=raw_cents == mart_cents,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"raw_cents": raw_cents, "mart_cents": mart_cents, "difference": mart_cents - raw_cents},
    )
