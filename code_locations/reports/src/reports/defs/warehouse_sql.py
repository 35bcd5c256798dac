"""Report tables built by the warehouse itself: `INSERT ... SELECT` over the marts.

The run sends SQL and reads back a few rows of metadata, so its memory does not
grow with marts.orders (docs/performance.md). The same SQL runs on Postgres
(docker, k8s) and DuckDB (`make dev`, tests); what differs between the two is
decided here and only here.

Writes stay inside the `reports` schema, which the platform creates and the
reports role owns: a schema that exists is never created again (Postgres checks
the database's CREATE privilege even for `CREATE SCHEMA IF NOT EXISTS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg
import sqlalchemy as sa

PREVIEW_ROWS = 5
# The declared column types (dg.TableSchema) as both warehouses spell them in DDL:
# Postgres has no DOUBLE, both have DOUBLE PRECISION.
DDL_TYPES = {"DOUBLE": "DOUBLE PRECISION"}
BUILDING_SUFFIX = "__building"


def quoted(*names: str) -> str:
    return ".".join('"' + n.replace('"', '""') + '"' for n in names)


def in_list(values: Iterable[str]) -> str:
    """`'a', 'b'` for `x IN (...)`: SQL literals of the code's own constants."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _writer_lock(conn: sa.Connection, schema: str) -> None:
    if conn.dialect.name == "postgresql":
        # The key the platform's WarehouseIOManager takes for a schema: writers to
        # one schema take turns, so two runs never build the same table at once.
        # DuckDB admits one writer to the file anyway.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"warehouse:{schema}"})


def _ensure_schema(conn: sa.Connection, schema: str) -> None:
    exists = conn.execute(sa.text("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :s"), {"s": schema}).first()
    if not exists:  # a fresh DuckDB file; on Postgres the platform's init creates it
        conn.execute(sa.text(f"CREATE SCHEMA {quoted(schema)}"))


def exists(conn: sa.Connection, schema: str, table: str) -> bool:
    """Whether the table (or view) exists, readable or not: information_schema lists
    only what the role may read, the catalog lists everything."""
    found = conn.execute(
        sa.text(
            "SELECT 1 FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relname = :table"
        ),
        {"schema": schema, "table": table},
    ).first()
    return found is not None


def columns_of(conn: sa.Connection, schema: str, table: str) -> list[str]:
    """The table's columns, as a query sees them: a role that may not read it gets the warehouse's refusal."""
    return list(conn.execute(sa.text(f"SELECT * FROM {quoted(schema, table)} LIMIT 0")).keys())


def _create(conn: sa.Connection, schema: str, table: str, columns: dg.TableSchema, *, if_not_exists: bool) -> None:
    spec = ", ".join(f"{quoted(c.name)} {DDL_TYPES.get(c.type, c.type)}" for c in columns.columns)
    exists = "IF NOT EXISTS " if if_not_exists else ""
    conn.execute(sa.text(f"CREATE TABLE {exists}{quoted(schema, table)} ({spec})"))


def _insert(conn: sa.Connection, target: str, columns: dg.TableSchema, select: str, params: Mapping[str, Any]) -> None:
    names = ", ".join(quoted(c.name) for c in columns.columns)
    conn.execute(sa.text(f"INSERT INTO {target} ({names}) {select}"), dict(params))


def replace_table(
    conn: sa.Connection, schema: str, table: str, columns: dg.TableSchema, select: str, params: Mapping[str, Any]
) -> None:
    """Replace `schema.table` with the rows of `select`, typed as `columns` declares.

    Built under another name and swapped in at the end of the caller's
    transaction: readers see the old table until the commit, and only the swap
    (drop, rename) holds the lock that blocks them.
    """
    _writer_lock(conn, schema)
    _ensure_schema(conn, schema)
    building = table + BUILDING_SUFFIX
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {quoted(schema, building)}"))
    _create(conn, schema, building, columns, if_not_exists=False)
    _insert(conn, quoted(schema, building), columns, select, params)
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {quoted(schema, table)}"))
    conn.execute(sa.text(f"ALTER TABLE {quoted(schema, building)} RENAME TO {quoted(table)}"))


def replace_rows(
    conn: sa.Connection,
    schema: str,
    table: str,
    columns: dg.TableSchema,
    where: str,
    select: str,
    params: Mapping[str, Any],
) -> None:
    """Replace the rows of `schema.table` that match `where` with the rows of `select`,
    in the caller's transaction: other partitions stay as they are."""
    _writer_lock(conn, schema)
    _ensure_schema(conn, schema)
    _create(conn, schema, table, columns, if_not_exists=True)
    existing, declared = columns_of(conn, schema, table), [c.name for c in columns.columns]
    if existing != declared:
        raise dg.Failure(
            f"table {schema}.{table} has columns {existing} but the asset now produces {declared}; "
            "migrate the table (or drop it and backfill) first",
            allow_retries=False,
        )
    conn.execute(sa.text(f"DELETE FROM {quoted(schema, table)} WHERE {where}"), dict(params))
    _insert(conn, quoted(schema, table), columns, select, params)


def require_rows(conn: sa.Connection, schema: str, table: str, needed: tuple[str, ...]) -> None:
    """Fail before anything is written, so the BI tool keeps the last good report."""
    if not exists(conn, schema, table):
        raise dg.Failure(
            f"{schema}.{table} does not exist: has transform_job run? The report tables keep their previous contents.",
            allow_retries=False,
        )
    found = columns_of(conn, schema, table)
    missing = [c for c in needed if c not in found]
    if missing:
        raise dg.Failure(
            description=f"{schema}.{table} is missing column(s) {', '.join(missing)}; the reports need {', '.join(needed)}",
            metadata={"columns_found": dg.MetadataValue.json(found)},
            allow_retries=False,
        )
    if conn.execute(sa.text(f"SELECT 1 FROM {quoted(schema, table)} LIMIT 1")).first() is None:
        raise no_rows(f"{schema}.{table}")


def no_rows(table: str) -> dg.Failure:
    return dg.Failure(
        f"{table} has no rows: has transform_job run? The report tables keep their previous contents.",
        allow_retries=False,
    )


def markdown(keys: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def table_metadata(
    conn: sa.Connection,
    schema: str,
    table: str,
    columns: dg.TableSchema,
    where: str = "TRUE",
    params: Mapping[str, Any] | None = None,
    order_by: str | None = None,
) -> dict[str, dg.MetadataValue]:
    """What a materialization says about the rows it wrote (those matching `where`),
    read back from the warehouse: a count and the first rows (by `order_by`, or as stored)."""
    target, params = quoted(schema, table), dict(params or {})
    count = conn.execute(sa.text(f"SELECT count(*) FROM {target} WHERE {where}"), params).scalar_one()
    order = f" ORDER BY {order_by}" if order_by else ""
    head = conn.execute(sa.text(f"SELECT * FROM {target} WHERE {where}{order} LIMIT {PREVIEW_ROWS}"), params)
    return {
        "dagster/row_count": dg.MetadataValue.int(int(count)),
        "dagster/column_schema": dg.MetadataValue.table_schema(columns),
        "dagster/table_name": dg.MetadataValue.text(f"warehouse.{schema}.{table}"),
        "preview": dg.MetadataValue.md(markdown(list(head.keys()), [tuple(r) for r in head])),
    }
