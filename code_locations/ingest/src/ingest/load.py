"""Writing the raw tables: in transactions, in chunks, never more than one writer.

Every write to `raw` runs in one warehouse transaction that first takes the
`ingest:raw` lock (Postgres advisory lock; DuckDB has a single writer anyway),
so a landing file's run and a day's run never interleave. Rows go in with COPY
FROM STDIN in chunks, so memory does not grow with the data.

- Customers are a dimension: upserted, never deleted (`upsert_customers`).
- A day's rows (`load_days`): the generated orders and payments plus every
  landing file archived for the day, replacing the day's rows.
- A landing file's rows (`load_landing_file`): replace that file's rows only,
  and its archive is written inside the same transaction's window (below).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import dagster as dg
import sqlalchemy as sa
from platform_common.landing_archive import ARCHIVE_PREFIX, LANDING_ROOT, SOURCE_ETAG_KEY, SOURCE_KEY_KEY, archive_key
from platform_common.warehouse import ensure_schema, insert_rows, table_columns

from ingest import generator, landing

if TYPE_CHECKING:
    import pandas as pd
    from platform_common import ObjectStore, Warehouse

SCHEMA = "raw"
TABLES: dict[str, list[tuple[str, str]]] = {
    "customers": [("customer_id", "BIGINT NOT NULL"), ("first_name", "TEXT NOT NULL"), ("last_name", "TEXT NOT NULL")],
    # source_file: the landing file a row came from; NULL for generated rows.
    "orders": [("order_id", "BIGINT NOT NULL"), ("customer_id", "BIGINT NOT NULL"),
               ("order_date", "TIMESTAMP NOT NULL"), ("status", "TEXT NOT NULL"), ("source_file", "TEXT")],
    "payments": [("payment_id", "BIGINT NOT NULL"), ("order_id", "BIGINT NOT NULL"), ("payment_method", "TEXT NOT NULL"),
                 ("amount_cents", "BIGINT NOT NULL"), ("order_date", "TIMESTAMP NOT NULL"), ("source_file", "TEXT")],
}
# Postgres only: the landed rows are few and are looked up by file and id; a unique
# index keeps the customer dimension free of duplicates whatever writes to it.
INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS customers_customer_id ON raw.customers (customer_id)",
    "CREATE INDEX IF NOT EXISTS orders_landed_file ON raw.orders (source_file) WHERE source_file IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS orders_landed_id ON raw.orders (order_id) WHERE source_file IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS payments_landed_file ON raw.payments (source_file) WHERE source_file IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS payments_landed_id ON raw.payments (payment_id) WHERE source_file IS NOT NULL",
]
CHUNK_ROWS = 500_000


def _permanent(message: str, **metadata) -> dg.Failure:
    return dg.Failure(description=message, metadata=metadata or None, allow_retries=False)


def _lock_and_prepare(conn: sa.Connection) -> None:
    """Take the raw schema's writer lock, then create or migrate the tables."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('ingest:raw'))"))
    ensure_schema(conn, SCHEMA)
    for table, columns in TABLES.items():
        existing = table_columns(conn, SCHEMA, table)
        if not existing:
            body = ", ".join(f'"{name}" {kind}' for name, kind in columns)
            conn.execute(sa.text(f'CREATE TABLE "{SCHEMA}"."{table}" ({body})'))
            continue
        if "source_file" not in existing and any(c == "source_file" for c, _ in columns):
            conn.execute(sa.text(f'ALTER TABLE "{SCHEMA}"."{table}" ADD COLUMN source_file TEXT'))
            existing.append("source_file")
        expected = [name for name, _ in columns]
        if sorted(existing) != sorted(expected):
            raise _permanent(f"table {SCHEMA}.{table} has columns {existing}, ingest writes {expected}: "
                             "migrate the table (or drop it and rematerialize) first")
    if postgres:
        for statement in INDEXES:
            conn.execute(sa.text(statement))


@contextmanager
def _staging(conn: sa.Connection, name: str, columns: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """A temporary table for one transaction: (schema, table) to COPY into."""
    body = ", ".join(f'"{column}" {kind}' for column, kind in columns)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f'CREATE TEMP TABLE "{name}" ({body}) ON COMMIT DROP'))
        yield "pg_temp", name
        return
    conn.execute(sa.text(f'CREATE TEMP TABLE "{name}" ({body})'))
    try:
        yield "temp", name
    finally:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS temp."{name}"'))


def _copy(conn: sa.Connection, frame: pd.DataFrame, table: str, schema: str = SCHEMA) -> None:
    insert_rows(conn, frame, schema, table, csv_by_duckdb=True)


def upsert_customers(warehouse: Warehouse, *, seed: int, n_customers: int) -> dict[str, int]:
    """Customers 1..n_customers from the generator, inserted or updated; customers
    above n_customers that are already stored stay (a dimension never shrinks)."""
    with warehouse.begin() as conn:
        _lock_and_prepare(conn)
        before = _scalar(conn, "SELECT count(*) FROM raw.customers")
        changed = 0
        with _staging(conn, "customers_in", TABLES["customers"]) as (schema, table):
            staged = f'"{schema}"."{table}"'
            for chunk in generator.customer_chunks(seed=seed, n_customers=n_customers, chunk_rows=CHUNK_ROWS):
                conn.execute(sa.text(f"DELETE FROM {staged}"))
                _copy(conn, chunk, table, schema)
                differs = ("c.customer_id = i.customer_id AND "
                           "(c.first_name <> i.first_name OR c.last_name <> i.last_name)")
                changed += _scalar(conn, f"SELECT count(*) FROM raw.customers c JOIN {staged} i ON {differs}")
                conn.execute(sa.text(
                    f"UPDATE raw.customers AS c SET first_name = i.first_name, last_name = i.last_name "
                    f"FROM {staged} AS i WHERE {differs}"))
                conn.execute(sa.text(
                    f"INSERT INTO raw.customers (customer_id, first_name, last_name) "
                    f"SELECT i.customer_id, i.first_name, i.last_name FROM {staged} AS i "
                    f"WHERE NOT EXISTS (SELECT 1 FROM raw.customers c WHERE c.customer_id = i.customer_id)"))
        after = _scalar(conn, "SELECT count(*) FROM raw.customers")
        _analyze_if_stale(conn, {"customers": (after - before) + changed})
    return {"stored": after, "inserted": after - before, "updated": changed, "kept_above_n": after - n_customers}


def _analyze_if_stale(conn: sa.Connection, written: dict[str, int]) -> None:
    """ANALYZE each table this transaction wrote enough rows to that autovacuum would
    analyze it at its next look (`autovacuum_analyze_threshold` plus
    `autovacuum_analyze_scale_factor` of its rows): now, before the commit, so the
    next reader (transform's models, seconds later) never plans with the statistics
    of the table before a bulk load. Postgres only."""
    if conn.dialect.name != "postgresql":
        return
    threshold, scale = conn.execute(sa.text(
        "SELECT CAST(current_setting('autovacuum_analyze_threshold') AS float8), "
        "CAST(current_setting('autovacuum_analyze_scale_factor') AS float8)")).one()
    for table, rows in written.items():
        stored = _scalar(conn, "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST(:t AS regclass)",
                         t=f"{SCHEMA}.{table}")
        if rows > threshold + scale * stored:
            conn.execute(sa.text(f'ANALYZE "{SCHEMA}"."{table}"'))


def _scalar(conn: sa.Connection, sql: str, **params: object) -> int:
    return int(conn.execute(sa.text(sql), params).scalar_one() or 0)


def _window(first: date, last: date) -> dict[str, datetime]:
    return {"start": datetime(first.year, first.month, first.day),
            "end": datetime(last.year, last.month, last.day) + timedelta(days=1)}


def load_days(
    warehouse: Warehouse,
    archive_store: ObjectStore,
    *,
    seed: int,
    first: date,
    last: date,
    orders_per_day: int,
    n_customers: int,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Replace the days first..last of raw.orders and raw.payments with the generated
    rows and the rows of every landing file archived for those days, in one transaction."""
    from platform_common.parquet import read_parquet_bytes

    archives = _archives(archive_store, first, last)
    stats = {"generated_orders": 0, "generated_payments": 0, "landed_orders": 0, "landed_payments": 0,
             "landed_files": len(archives)}
    with warehouse.begin() as conn:
        _lock_and_prepare(conn)
        if orders_per_day:
            covered = _scalar(conn, "SELECT count(*) FROM raw.customers WHERE customer_id BETWEEN 1 AND :n",
                              n=n_customers)
            if covered != n_customers:
                raise _permanent(
                    f"generated orders pick customers 1..{n_customers}, but raw/customers holds {covered} of them: "
                    f"these orders would have no customer. Materialize raw/customers with n_customers >= "
                    f"{n_customers} (or lower orders' n_customers) first")
        window = _window(first, last)
        for table in ("orders", "payments"):
            conn.execute(sa.text(f"DELETE FROM raw.{table} WHERE order_date >= :start AND order_date < :end"), window)
        for chunk in generator.chunks(seed=seed, first=first, last=last, orders_per_day=orders_per_day,
                                      n_customers=n_customers, chunk_orders=CHUNK_ROWS):
            _copy(conn, chunk.orders, "orders")
            _copy(conn, chunk.payments, "payments")
            stats["generated_orders"] += len(chunk.orders)
            stats["generated_payments"] += len(chunk.payments)
            log(f"{chunk.days[-1]}: {stats['generated_orders']} generated orders so far")
        for key in archives:
            rows = read_parquet_bytes(archive_store.get_bytes(key))
            source = rows["source_file"].iloc[0] if len(rows) else key
            _check_customers(conn, source, rows, f"{key} (archive of {source})")
            orders, payments = landing.orders_of(rows), landing.payments_of(rows)
            _copy(conn, orders, "orders")
            _copy(conn, payments, "payments")
            stats["landed_orders"] += len(orders)
            stats["landed_payments"] += len(payments)
        _analyze_if_stale(conn, {
            "orders": stats["generated_orders"] + stats["landed_orders"],
            "payments": stats["generated_payments"] + stats["landed_payments"]})
    return stats


def _archives(archive_store: ObjectStore, first: date, last: date) -> list[str]:
    """Archive keys of the landing files of days first..last: one listing per day for a
    short range, one listing of the whole archive for a long one."""
    prefix = f"{ARCHIVE_PREFIX}{landing.PREFIX[len(LANDING_ROOT):]}"
    days = (last - first).days + 1
    if days <= 31:
        listed = [o for d in range(days) for o in archive_store.list(f"{prefix}{first + timedelta(days=d)}/")]
    else:
        listed = archive_store.list(prefix)
    keys = []
    for obj in listed:
        day = landing.day_of(LANDING_ROOT + obj.key[len(ARCHIVE_PREFIX):].removesuffix(".parquet"))
        if day is not None and first <= day <= last:
            keys.append(obj.key)
    return sorted(keys)


def _check_customers(conn: sa.Connection, key: str, rows: pd.DataFrame, where: str | None = None) -> None:
    orders = landing.orders_of(rows)
    wanted = sorted({int(c) for c in orders["customer_id"]})
    found = set(_in_batches(conn, "SELECT customer_id FROM raw.customers WHERE customer_id IN :ids", wanted))
    missing = orders[~orders["customer_id"].isin(found)]
    if missing.empty:
        return
    stored = _scalar(conn, "SELECT count(*) FROM raw.customers")
    lines = rows.drop_duplicates("order_id").set_index("order_id")["source_line"]
    problems = [f"{landing.Cell(key, int(lines[r.order_id]), 'customer_id')}: customer {r.customer_id} does not exist"
                for r in missing.itertuples()]
    raise landing.LandingFileError(_summary(problems, f"(raw/customers holds {stored} customers)", where))


def _summary(problems: list[str], tail: str, where: str | None = None) -> str:
    shown = "; ".join(problems[: landing.MAX_REPORTED])
    more = len(problems) - landing.MAX_REPORTED
    text = f"{shown}{f'; and {more} more' if more > 0 else ''} {tail}"
    return f"{where}: {text}" if where else text


def _in_batches(conn: sa.Connection, sql: str, ids: list[int], **params: object) -> list:
    statement = sa.text(sql).bindparams(sa.bindparam("ids", expanding=True))
    out: list = []
    for i in range(0, len(ids), 10_000):
        rows = conn.execute(statement, {**params, "ids": ids[i:i + 10_000]}).all()
        out += [r[0] if len(r) == 1 else tuple(r) for r in rows]
    return out


def _check_ids_not_stored_elsewhere(conn: sa.Connection, key: str, rows: pd.DataFrame) -> None:
    """Order and payment ids must not already be stored from another landing file
    (generated ids are out of the landed range, see ingest.landing)."""
    problems = []
    for table, column in (("orders", "order_id"), ("payments", "payment_id")):
        ids = sorted({int(i) for i in rows[column]})
        stored = dict(_in_batches(
            conn,
            f"SELECT {column}, source_file FROM raw.{table} "
            f"WHERE source_file IS NOT NULL AND source_file <> :key AND {column} IN :ids",
            ids, key=key))
        if stored:
            lines = rows.drop_duplicates(column).set_index(column)["source_line"]
            problems += [f"{landing.Cell(key, int(lines[i]), column)}: id {i} is already stored from {other}"
                         for i, other in sorted(stored.items())]
    if problems:
        raise landing.LandingFileError(_summary(problems, "(ids are unique across all landing files)"))


def load_landing_file(
    warehouse: Warehouse, archive_store: ObjectStore, *, key: str, data: bytes, etag: str, day: date
) -> dict[str, int]:
    """Validate one landing file version; replace its rows and write its archive, together.

    The archive object is written last inside the warehouse transaction, so a
    failure before it leaves neither; if the commit itself fails, the previous
    archive (or none) is put back. Raises LandingFileError for a bad file.
    """
    from platform_common.parquet import to_parquet_bytes

    rows = landing.parse(key, data, day)
    archived = to_parquet_bytes(rows, metadata={SOURCE_ETAG_KEY: etag, SOURCE_KEY_KEY: key})
    target = archive_key(key)
    previous = archive_store.get_bytes(target) if archive_store.exists(target) else None
    written = False
    try:
        with warehouse.begin() as conn:
            _lock_and_prepare(conn)
            _check_customers(conn, key, rows)
            _check_ids_not_stored_elsewhere(conn, key, rows)
            for table in ("orders", "payments"):
                conn.execute(sa.text(f"DELETE FROM raw.{table} WHERE source_file = :key"), {"key": key})
            orders, payments = landing.orders_of(rows), landing.payments_of(rows)
            _copy(conn, orders, "orders")
            _copy(conn, payments, "payments")
            archive_store.put_bytes(target, archived, content_type="application/vnd.apache.parquet")
            written = True
    except BaseException as exc:
        if written:
            try:
                _restore(archive_store, target, previous)
            except Exception as undo:  # noqa: BLE001 - the original error is the one to report
                exc.add_note(f"and putting back the previous archive of {key} failed too: {undo!r}")
        raise
    return {"landed_orders": len(orders), "landed_payments": len(payments)}


def _restore(archive_store: ObjectStore, key: str, previous: bytes | None) -> None:
    if previous is None:
        archive_store.delete(key)
    else:
        archive_store.put_bytes(key, previous, content_type="application/vnd.apache.parquet")
