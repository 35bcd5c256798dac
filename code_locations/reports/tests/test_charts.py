import base64
import re

import dagster as dg
from platform_common import WarehouseIOManager

from reports.defs.assets import daily_revenue, orders_by_status, upstream
from reports.defs.charts import orders_by_status_chart, revenue_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def build_charts(warehouse, object_store) -> dict[str, dg.AssetMaterialization]:
    result = dg.materialize(
        [*upstream, daily_revenue, orders_by_status, revenue_chart, orders_by_status_chart],
        resources={
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "warehouse": warehouse,
            "object_store": object_store,
        },
    )
    assert result.success
    return {e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()}


def test_charts_are_pngs_in_the_store_and_inline_in_the_metadata(warehouse, object_store):
    mats = build_charts(warehouse, object_store)
    for asset, name in [
        ("reports/revenue_chart", "revenue_by_day"),
        ("reports/orders_by_status_chart", "orders_by_status"),
    ]:
        png = object_store.get_bytes(f"charts/{name}.png")
        assert png.startswith(PNG_MAGIC)
        assert 1_000 < len(png) < 60_000, len(png)  # small enough for run metadata

        metadata = mats[asset].metadata
        markdown = metadata["chart"].value
        [embedded] = re.findall(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
        assert base64.b64decode(embedded) == png
        assert metadata["dagster/uri"].value == object_store.uri(f"charts/{name}.png")
        assert metadata["size_bytes"].value == len(png)


def test_chart_metadata_carries_the_totals_it_plots(warehouse, object_store):
    mats = build_charts(warehouse, object_store)
    assert mats["reports/revenue_chart"].metadata["revenue_cents"].value == 2600
    assert mats["reports/revenue_chart"].metadata["days"].value == 6
    assert mats["reports/orders_by_status_chart"].metadata["orders"].value == 7


def test_charts_are_not_written_to_the_warehouse(warehouse, object_store):
    build_charts(warehouse, object_store)
    tables = warehouse.read_sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'reports'")
    assert set(tables["table_name"]) == {"daily_revenue", "orders_by_status"}
