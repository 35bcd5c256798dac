"""Measurements the benchmark (bench/run.py) calls in process; no Dagster run involved.

- `sensor_ticks(store, n_files)`: drops `n_files` landing files (if missing) into
  `store`, then times landing_sensor's first tick (every file new) and a second
  one that finds nothing new, as the daemon would run them.
- `own_file_run(store, n_files)`: with `n_files` landing files in `store`, loads
  one of them as landing_sensor's run does (the orders_and_payments asset with
  `landing_file` set, on a DuckDB warehouse in the store's scratch folder) and
  records every landing object the run read or listed.
- `generate(orders, ...)`: the generator's throughput and the process's peak RSS.
"""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from platform_common import ObjectStore, Warehouse, WarehouseIOManager

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


@contextmanager
def _landing_reads(bucket: str):
    """Record each key read and each prefix listed in `bucket`, by any ObjectStore."""
    seen: dict[str, list[str]] = {"read": [], "listed": []}
    get_with_etag, get_bytes, listing = ObjectStore.get_with_etag, ObjectStore.get_bytes, ObjectStore.list

    def record(kind, method):
        def wrapper(self, key="", *args, **kwargs):
            if self.bucket == bucket:
                seen[kind].append(key)
            return method(self, key, *args, **kwargs)
        return wrapper

    ObjectStore.get_with_etag = record("read", get_with_etag)
    ObjectStore.get_bytes = record("read", get_bytes)
    ObjectStore.list = record("listed", listing)
    try:
        yield seen
    finally:
        ObjectStore.get_with_etag, ObjectStore.get_bytes, ObjectStore.list = get_with_etag, get_bytes, listing


def own_file_run(store: ObjectStore, n_files: int = 10_000) -> dict[str, float | int | str]:
    from ingest.defs.assets import customers, orders_and_payments

    drop_files(store, n_files)
    scratch = Path(store.local_dir or ".")
    warehouse = Warehouse(backend="duckdb", duckdb_path=str(scratch / "own_file_run.duckdb"))
    resources = {
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "object_store": ObjectStore(backend="local", bucket="dagster-data", local_dir=str(scratch)),
        "landing_store": ObjectStore(**{**store.model_dump(), "read_only": True}),
        "warehouse": warehouse,
    }
    key = sorted(o.key for o in store.list(landing.PREFIX))[0]
    day = landing.day_of(key).isoformat()
    # The day's customers first (the file's orders reference them), as a daily run would.
    dg.materialize([customers, orders_and_payments], partition_key=day, resources=resources,
                   run_config={"ops": {"orders_and_payments": {"config": {"orders_per_day": 1}}}})
    with _landing_reads(store.bucket) as seen:
        started = time.perf_counter()
        dg.materialize([orders_and_payments], partition_key=day, resources=resources,
                       run_config={"ops": {"orders_and_payments": {"config": {"landing_file": key}}}})
        seconds = time.perf_counter() - started
    return {"files": len(store.list(landing.PREFIX)), "file": key, "run_s": round(seconds, 3),
            "landing_objects_read": len(seen["read"]), "other_files_read": len(set(seen["read"]) - {key}),
            "landing_listings": len(seen["listed"])}


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
