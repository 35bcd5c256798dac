import dagster as dg

from platform_common.retries import RETRY_POLICY

# The reports location's run-status sensor watches this job by name.
transform_job = dg.define_asset_job(
    "transform_job",
    selection=dg.AssetSelection.groups("staging", "marts"),
    description="dbt build (staging and marts models with their tests), then the Python marts and checks.",
    # For the steps without a policy of their own: payments_reconcile.
    op_retry_policy=RETRY_POLICY,
)
