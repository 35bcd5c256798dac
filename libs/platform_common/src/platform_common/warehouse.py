"""The warehouse: a SQL database every run container can reach.

In the compose and Helm deployments it is the `warehouse` database of the
platform's Postgres; for `make dev` and in-process tests it is a DuckDB file.
Tables are named after asset keys: `["raw", "orders"]` is `raw.orders`.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

if TYPE_CHECKING:  # pandas loads when a step needs it, not with the definitions (docs/performance.md)
    import pandas as pd

PREVIEW_ROWS = 5


# "schema"."table" or schema.table in a statement.
_RELATION = re.compile(r'"?([A-Za-z_][\w$]*)"?\s*\.\s*"?([A-Za-z_][\w$]*)"?')


class WarehousePermissionError(PermissionError):
    """The location's role may not touch a table or schema: a grant it lacks
    (its pyproject.toml's [tool.dagster-platform] declares what it may touch)."""


def _name_permission_errors(context: sa.engine.ExceptionContext) -> BaseException | None:
    """Postgres says "permission denied for schema marts"; say also which role
    asked and for which tables, so the run's failure names both."""
    if getattr(context.original_exception, "pgcode", None) != "42501":  # insufficient_privilege
        return None
    statement = " ".join((context.statement or "").split())
    tables = sorted({f"{s}.{t}" for s, t in _RELATION.findall(statement)})
    reason = str(context.original_exception).strip().splitlines()[0]
    return WarehousePermissionError(
        f"warehouse role {context.engine.url.username} may not do this ({reason}); the statement touches "
        f"{', '.join(tables) or 'no named table'}: {statement[:300]}. A location reads and writes only the "
        "schemas its pyproject.toml declares ([tool.dagster-platform.warehouse])"
    )


@functools.lru_cache(maxsize=8)
def _engine(url: sa.URL) -> sa.Engine:
    # pool_pre_ping: a Postgres restart must not leave dead pooled connections behind.
    engine = sa.create_engine(url, pool_pre_ping=True)
    sa.event.listen(engine, "handle_error", _name_permission_errors)
    return engine


class Warehouse(dg.ConfigurableResource):
    """Connection to the warehouse database."""

    backend: Literal["postgres", "duckdb"] = Field(description="postgres (docker, k8s) or duckdb (local)")
    duckdb_path: str | None = Field(default=None, description="DuckDB file, for backend=duckdb")
    host: str | None = None
    port: int = 5432
    user: str | None = None
    password: str | None = None
    database: str | None = Field(default=None, description="Postgres database, e.g. warehouse")

    def url(self) -> sa.URL:
        if self.backend == "duckdb":
            if not self.duckdb_path:
                raise dg.Failure("Warehouse(backend='duckdb') needs duckdb_path")
            if importlib.util.find_spec("duckdb_engine") is None:
                raise dg.Failure(
                    "Warehouse(backend='duckdb') needs DuckDB, which this environment lacks: the images "
                    "ship Postgres only (DAGSTER_PLATFORM_ENV=docker or k8s); for local runs install "
                    "platform-common[duckdb] (every location's dev dependency group has it)"
                )
            return sa.URL.create("duckdb", database=self.duckdb_path)
        missing = [k for k in ("host", "user", "password", "database") if not getattr(self, k)]
        if missing:
            raise dg.Failure(f"Warehouse(backend='postgres') is missing: {', '.join(missing)}")
        return sa.URL.create(
            "postgresql+psycopg2",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            # A database that is down fails the attempt in seconds; the step's
            # RetryPolicy (platform_common.retries) waits the outage out.
            query={"connect_timeout": "10"},
        )

    def engine(self) -> sa.Engine:
        return _engine(self.url())

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """One transaction: everything inside commits together or not at all."""
        with self.engine().begin() as conn:
            yield conn

    def read_sql(self, sql: str, **params: object) -> pd.DataFrame:
        import pandas as pd

        with self.engine().connect() as conn:
            return pd.read_sql(sa.text(sql), conn, params=params)

    def preview(self, schema: str, table: str) -> dg.MetadataValue:
        """The first rows of `schema.table` as a markdown table (a model dbt built, say)."""
        return dg.MetadataValue.md(_markdown_preview(
            self.read_sql(f'SELECT * FROM "{schema}"."{table}" LIMIT {PREVIEW_ROWS}')))


def table_for(asset_key: dg.AssetKey) -> tuple[str, str]:
    """`["raw", "orders"]` -> ("raw", "orders"); a one-part key lands in `public`."""
    path = asset_key.path
    if len(path) == 1:
        return "public", path[0]
    return path[-2], path[-1]


def _partition_filter(context: dg.InputContext | dg.OutputContext, column: str) -> tuple[str, dict]:
    partitions_def = context.asset_partitions_def
    quoted = f'"{column}"'
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        window = context.asset_partitions_time_window
        return (
            f"{quoted} >= :start AND {quoted} < :end",
            {"start": window.start.replace(tzinfo=None), "end": window.end.replace(tzinfo=None)},
        )
    keys = list(context.asset_partition_keys)
    names = {f"k{i}": k for i, k in enumerate(keys)}
    return f"{quoted} IN ({', '.join(':' + n for n in names)})", names


def _partition_column(context: dg.InputContext | dg.OutputContext) -> str:
    column = (context.definition_metadata or {}).get("partition_expr")
    if not column:
        raise dg.Failure(
            f"asset {context.asset_key.to_user_string()} is partitioned but has no "
            "'partition_expr' metadata naming its partition column"
        )
    return str(column)


def _markdown_preview(df: pd.DataFrame) -> str:
    head = df.head(PREVIEW_ROWS)
    lines = ["| " + " | ".join(map(str, head.columns)) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in head.itertuples(index=False)]
    return "\n".join(lines)


def table_metadata(df: pd.DataFrame, schema: str, table: str) -> dict[str, dg.MetadataValue]:
    columns = [dg.TableColumn(name=str(c), type=str(t)) for c, t in df.dtypes.items()]
    return {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "dagster/column_schema": dg.MetadataValue.table_schema(dg.TableSchema(columns=columns)),
        "dagster/table_name": dg.MetadataValue.text(f"warehouse.{schema}.{table}"),
        "preview": dg.MetadataValue.md(_markdown_preview(df)),
    }


def _sql_type(series: pd.Series) -> sa.types.TypeEngine:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(series):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(series):
        return sa.Float()
    if pd.api.types.is_datetime64_any_dtype(series):
        return sa.DateTime()
    if pd.api.types.infer_dtype(series, skipna=True) == "date":
        return sa.Date()
    return sa.Text()


def ensure_schema(conn: sa.Connection, schema: str) -> None:
    """Create `schema` only if it is missing.

    The platform pre-creates each location's schemas and makes the location's role
    their owner; that role has no CREATE on the database, and Postgres checks that
    privilege before IF NOT EXISTS, so an existing schema is never created again.
    """
    if conn.dialect.name == "postgresql":
        found = conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
    else:
        found = conn.execute(
            sa.text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
        ).first()
    if not found:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def write_table(conn: sa.Connection, df: pd.DataFrame, schema: str, table: str, *, replace: bool) -> None:
    """Create `schema.table` shaped like `df` (dropping the old one if `replace`).

    Runs on the caller's connection, so it commits or rolls back with the rows.
    """
    if conn.dialect.name == "postgresql":
        # Concurrent runs (a backfill) race on CREATE SCHEMA/TABLE ... IF NOT EXISTS,
        # which Postgres does not make atomic; a transaction-scoped lock per schema
        # makes writers to one schema take turns.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"warehouse:{schema}"})
    ensure_schema(conn, schema)
    if replace:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{schema}"."{table}"'))
    else:
        existing = _columns(conn, schema, table)
        if existing and existing != [str(c) for c in df.columns]:
            raise dg.Failure(
                f"table {schema}.{table} has columns {existing} but the asset now produces "
                f"{[str(c) for c in df.columns]}; migrate the table (or drop it and backfill) first"
            )
    columns = [sa.Column(str(name), _sql_type(df[name])) for name in df.columns]
    conn.execute(sa.schema.CreateTable(sa.Table(table, sa.MetaData(), *columns, schema=schema), if_not_exists=True))


def table_columns(conn: sa.Connection, schema: str, table: str) -> list[str]:
    """The columns of `schema.table` in order; empty if the table does not exist."""
    return _columns(conn, schema, table)


def _columns(conn: sa.Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        sa.text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = :schema AND table_name = :table ORDER BY ordinal_position"
        ),
        {"schema": schema, "table": table},
    )
    return [r[0] for r in rows]


def insert_rows(conn: sa.Connection, df: pd.DataFrame, schema: str, table: str, *, csv_by_duckdb: bool = False) -> None:
    """Bulk-load `df`: COPY FROM STDIN on Postgres, a registered view on DuckDB.

    `csv_by_duckdb`: DuckDB writes the CSV that COPY reads (about 5x faster than
    pandas for ints, text and naive timestamps; needs the `duckdb` extra). The
    caller vouches that every column is one of those types.
    """
    if df.empty:
        return
    driver = conn.connection.driver_connection
    columns = ", ".join(f'"{c}"' for c in df.columns)
    if conn.dialect.name == "postgresql":
        copy = f'COPY "{schema}"."{table}" ({columns}) FROM STDIN WITH (FORMAT csv)'
        if csv_by_duckdb:
            _copy_via_duckdb_csv(driver, df, copy)
            return
        buffer = io.StringIO()
        df.to_csv(buffer, index=False, header=False)
        buffer.seek(0)
        with driver.cursor() as cursor:
            cursor.copy_expert(copy, buffer)
    else:
        driver.register("_platform_rows", df)
        try:
            driver.execute(f'INSERT INTO "{schema}"."{table}" ({columns}) SELECT {columns} FROM _platform_rows')
        finally:
            driver.unregister("_platform_rows")


def _copy_via_duckdb_csv(driver, df: pd.DataFrame, copy: str) -> None:
    import os
    import tempfile

    import duckdb

    with tempfile.TemporaryDirectory() as tmp, duckdb.connect() as con:
        path = os.path.join(tmp, "rows.csv")
        con.register("frame", df)
        # DuckDB writes NULL as an empty field and '' as "", which is how COPY (FORMAT csv) reads them.
        con.execute(f"COPY frame TO '{path}' (HEADER false)")
        with open(path, "rb") as f, driver.cursor() as cursor:
            cursor.copy_expert(copy, f, size=1 << 20)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores pandas DataFrames as warehouse tables, one table per asset.

    Unpartitioned assets replace their table in one transaction. Partitioned
    assets (with `partition_expr` metadata naming the partition column) delete
    exactly their partitions' rows and insert the new ones in one transaction,
    so re-running a partition replaces only it, and a failure leaves the
    previous data intact.
    """

    warehouse: Warehouse

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        import pandas as pd

        if not context.has_asset_key:
            raise dg.Failure(
                f"WarehouseIOManager stores asset outputs only; output {context.name!r} of op "
                f"{context.op_def.name!r} is not an asset. Return None or give it another io_manager_key."
            )
        if not isinstance(obj, pd.DataFrame):
            raise dg.Failure(
                f"WarehouseIOManager stores pandas DataFrames; asset "
                f"{context.asset_key.to_user_string()} returned {type(obj).__name__}"
            )
        schema, table = table_for(context.asset_key)
        with self.warehouse.begin() as conn:
            if context.has_asset_partitions:
                where, params = _partition_filter(context, _partition_column(context))
                write_table(conn, obj, schema, table, replace=False)
                conn.execute(sa.text(f'DELETE FROM "{schema}"."{table}" WHERE {where}'), params)
                insert_rows(conn, obj, schema, table)
            else:
                write_table(conn, obj, schema, table, replace=True)
                insert_rows(conn, obj, schema, table)
        context.add_output_metadata(table_metadata(obj, schema, table))

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        import pandas as pd

        schema, table = table_for(context.asset_key)
        sql = f'SELECT * FROM "{schema}"."{table}"'
        params: dict = {}
        if context.has_asset_partitions:
            where, params = _partition_filter(context, _partition_column(context))
            sql += f" WHERE {where}"
        with self.warehouse.engine().connect() as conn:
            return pd.read_sql(sa.text(sql), conn, params=params)

