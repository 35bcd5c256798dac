"""Measurements the benchmark (bench/run.py) calls in process; no Dagster run involved.

- `sensor_ticks(store, n_files)`: drops `n_files` landing files (if missing) into
  `store`, then times landing_sensor's first tick (every file new) and a second
  one that finds nothing new, as the daemon would run them.
- `generate(orders, ...)`: the generator's throughput and the process's peak RSS.
"""

from __future__ import annotations

import resource
import time
from datetime import date, timedelta

import dagster as dg
from platform_common import ObjectStore

from ingest import generator, landing
from ingest.defs.sensors import landing_sensor

HEADER = ",".join(landing.COLUMNS)


def drop_files(store: ObjectStore, n_files: int, first_day: date = date(2024, 1, 1)) -> int:
    """`n_files` small landing files over 100 days; returns how many were written."""
    present = {o.key for o in store.list(landing.PREFIX)}
    written = 0
    for i in range(n_files):
        day = first_day + timedelta(days=i % 100)
        key = f"{landing.PREFIX}{day}/bench-{i:06d}.csv"
        if key not in present:
            store.put_bytes(key, f"{HEADER}\n{i + 1},1,{day},completed,{i + 1},coupon,100\n".encode())
            written += 1
    return written


def sensor_ticks(store: ObjectStore, n_files: int = 10_000) -> dict[str, float | int]:
    drop_files(store, n_files)
    read_only = ObjectStore(**{**store.model_dump(), "read_only": True})
    figures: dict[str, float | int] = {"files": len(store.list(landing.PREFIX))}
    cursor = None
    for name in ("first_tick", "idle_tick"):
        with dg.build_sensor_context(resources={"landing_store": read_only}, cursor=cursor) as context:
            started = time.perf_counter()
            result = landing_sensor(context)
            figures[f"{name}_s"] = round(time.perf_counter() - started, 3)
        figures[f"{name}_requests"] = len(result.run_requests or [])
        if result.cursor is not None:
            cursor = result.cursor
            figures[f"{name}_cursor_bytes"] = len(cursor)
    return figures


def generate(orders: int = 1_000_000, orders_per_day: int = 10_000) -> dict[str, float | int]:
    days = max(1, -(-orders // orders_per_day))
    started, rows = time.perf_counter(), 0
    for chunk in generator.chunks(seed=42, first=date(2025, 1, 1), last=date(2025, 1, 1) + timedelta(days=days - 1),
                                  orders_per_day=orders_per_day, n_customers=max(100, orders // 10)):
        rows += len(chunk.orders) + len(chunk.payments)
    seconds = time.perf_counter() - started
    return {"orders": days * orders_per_day, "rows": rows, "seconds": round(seconds, 2),
            "orders_per_s": round(days * orders_per_day / seconds),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
