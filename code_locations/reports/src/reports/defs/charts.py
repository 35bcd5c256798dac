"""PNG charts of the report tables, stored in the object store and shown in the UI.

Rendered with matplotlib's Agg canvas on a bare `Figure` (no pyplot): no display,
no global figure state shared between runs in one process.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import dagster as dg
from platform_common import ObjectStore, Warehouse

from reports.defs.assets import OWNERS, daily_revenue, orders_by_status
from platform_common.retries import RETRY_POLICY, permanent_unless_transient

# matplotlib (and pandas) load when a chart is drawn, not with the definitions:
# the code server and runs that draw nothing skip them (docs/performance.md).
if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHART_KINDS = {"matplotlib", "pandas", "s3"}
# Small PNGs: the chart is embedded as base64 in the materialization metadata,
# which is stored with every run's events.
DPI = 90
SIZE_INCHES = (8, 3.5)
# A flat chart needs few colours: a 32-colour palette PNG is about a third of the
# size of matplotlib's RGBA output and looks the same.
PALETTE_COLORS = 32


def render_png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image  # matplotlib's own image dependency

    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").quantize(colors=PALETTE_COLORS).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def publish(object_store: ObjectStore, name: str, png: bytes, alt: str) -> dict[str, dg.MetadataValue]:
    """Store `png` as charts/<name>.png; metadata that shows it inline and links to it."""
    key = f"charts/{name}.png"
    object_store.put_bytes(key, png, content_type="image/png")
    b64 = base64.b64encode(png).decode("ascii")
    return {
        "chart": dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{b64})"),
        "dagster/uri": dg.MetadataValue.path(object_store.uri(key)),
        "size_bytes": dg.MetadataValue.int(len(png)),
    }


def _money(ax) -> None:
    import matplotlib.ticker as mticker

    ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))


@dg.asset(
    key=["reports", "revenue_chart"],
    deps=[daily_revenue],
    group_name="reports",
    owners=OWNERS,
    kinds=CHART_KINDS,
    code_version="1",
    retry_policy=RETRY_POLICY,
    description="Line chart of revenue by day (returns excluded), stored as charts/revenue_by_day.png.",
)
def revenue_chart(object_store: ObjectStore, warehouse: Warehouse) -> dg.MaterializeResult:
    with permanent_unless_transient("reports/revenue_chart"):
        days = warehouse.read_sql("SELECT order_date, revenue_cents FROM reports.daily_revenue ORDER BY order_date")
        return _draw_revenue(object_store, days)


def _draw_revenue(object_store: ObjectStore, days) -> dg.MaterializeResult:
    import matplotlib.dates as mdates
    import pandas as pd
    from matplotlib.figure import Figure

    dates = pd.to_datetime(days["order_date"])
    revenue = days["revenue_cents"] / 100
    fig = Figure(figsize=SIZE_INCHES, layout="constrained")
    ax = fig.subplots()
    ax.plot(dates, revenue, color="tab:blue", linewidth=1.2, marker="o" if len(days) < 40 else None, markersize=3)
    ax.fill_between(dates, revenue, color="tab:blue", alpha=0.15)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    _money(ax)
    ax.set_ylim(bottom=0)
    ax.set_title("Revenue by day (returns excluded)")
    ax.set_ylabel("revenue")
    ax.grid(axis="y", alpha=0.3)
    metadata = publish(object_store, "revenue_by_day", render_png(fig), "revenue by day")
    return dg.MaterializeResult(
        metadata={**metadata, "days": len(days), "revenue_cents": int(days["revenue_cents"].sum())}
    )


@dg.asset(
    key=["reports", "orders_by_status_chart"],
    deps=[orders_by_status],
    group_name="reports",
    owners=OWNERS,
    kinds=CHART_KINDS,
    code_version="1",
    retry_policy=RETRY_POLICY,
    description="Bar chart of the order count per status, stored as charts/orders_by_status.png.",
)
def orders_by_status_chart(object_store: ObjectStore, warehouse: Warehouse) -> dg.MaterializeResult:
    with permanent_unless_transient("reports/orders_by_status_chart"):
        # In the table's order: the shop's statuses first, then any other.
        by_status = warehouse.read_sql("SELECT status, orders FROM reports.orders_by_status")
        return _draw_orders_by_status(object_store, by_status)


def _draw_orders_by_status(object_store: ObjectStore, by_status) -> dg.MaterializeResult:
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE_INCHES, layout="constrained")
    ax = fig.subplots()
    bars = ax.barh(by_status["status"], by_status["orders"], color="tab:green")
    ax.bar_label(bars, padding=3)
    ax.invert_yaxis()
    ax.set_title("Orders by status")
    ax.set_xlabel("orders")
    ax.grid(axis="x", alpha=0.3)
    metadata = publish(object_store, "orders_by_status", render_png(fig), "orders by status")
    return dg.MaterializeResult(metadata={**metadata, "orders": int(by_status["orders"].sum())})


charts = [revenue_chart, orders_by_status_chart]
