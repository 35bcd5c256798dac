"""A location that reaches outside its grants fails with Postgres's permission
error, and the failure names the role and the table (real Postgres)."""

import pytest
from platform_common.warehouse import WarehousePermissionError


def test_reading_another_locations_schema_names_the_role_and_the_table(postgres_server, postgres_warehouse):
    database = postgres_warehouse.database
    postgres_server.psql(f"\\c {database}\nCREATE SCHEMA IF NOT EXISTS marts; "
                         "CREATE TABLE IF NOT EXISTS marts.orders (order_id bigint);")
    with pytest.raises(WarehousePermissionError) as err:
        postgres_warehouse.read_sql('SELECT order_id FROM "marts"."orders"')
    message = str(err.value)
    assert "warehouse role ingest may not do this (permission denied for schema marts)" in message
    assert "the statement touches marts.orders" in message


def test_a_permission_error_is_not_retried():
    from platform_common.retries import is_transient

    assert not is_transient(WarehousePermissionError("permission denied for table orders"))
