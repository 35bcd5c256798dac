import dagster as dg

from platform_common.retries import RETRY_POLICY

# Partitioned by month (inferred from reports/monthly_revenue); the unpartitioned tables
# and charts are rebuilt in every run. Launch it for one month, or for a range of
# months in one run (what the reports_after_transform sensor does).
reports_job = dg.define_asset_job(
    "reports_job",
    selection=dg.AssetSelection.groups("reports"),
    description="Rebuild the report tables and charts from the marts (monthly revenue: the selected months).",
    # For the steps without a policy of their own: the asset check.
    op_retry_policy=RETRY_POLICY,
)
