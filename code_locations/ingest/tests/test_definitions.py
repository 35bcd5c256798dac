import dagster as dg
import pytest
from platform_common import Warehouse, WarehouseIOManager

from ingest.definitions import defs
from ingest.defs.assets import raw_jaffle_shop
from ingest.defs.jobs import heartbeat_job
from ingest.generator import ORDER_STATUSES, PAYMENT_METHODS, generate


def test_definitions_load():
    loaded = dg.Definitions.validate_loadable(defs()) or defs()
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert keys == {"raw/customers", "raw/orders", "raw/payments"}
    assert {j.name for j in loaded.resolve_all_job_defs()} >= {"ingest_job", "heartbeat_job"}


def test_unknown_environment_is_named(monkeypatch):
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "staging")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PLATFORM_ENV='staging'"):
        defs()


def test_generator_is_deterministic():
    from datetime import date

    a = generate(seed=7, n_customers=20, n_orders=200, start=date(2024, 1, 1), days=10)
    b = generate(seed=7, n_customers=20, n_orders=200, start=date(2024, 1, 1), days=10)
    pd_testing = __import__("pandas").testing
    pd_testing.assert_frame_equal(a.orders, b.orders)
    pd_testing.assert_frame_equal(a.payments, b.payments)
    assert set(a.orders["status"]) <= set(ORDER_STATUSES)
    assert set(a.payments["payment_method"]) <= set(PAYMENT_METHODS)
    assert a.orders["customer_id"].between(1, 20).all()
    assert set(a.payments["order_id"]) == set(a.orders["order_id"])


def test_materialize_writes_raw_tables(tmp_path):
    warehouse = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))
    result = dg.materialize(
        [raw_jaffle_shop],
        resources={"io_manager": WarehouseIOManager(warehouse=warehouse)},
        run_config={"ops": {"raw_jaffle_shop": {"config": {"n_customers": 10, "n_orders": 50, "days": 5}}}},
    )
    assert result.success
    counts = warehouse.read_sql(
        "SELECT (SELECT count(*) FROM raw.customers) AS customers,"
        " (SELECT count(*) FROM raw.orders) AS orders,"
        " (SELECT count(DISTINCT order_id) FROM raw.payments) AS paid_orders"
    ).iloc[0]
    assert (counts["customers"], counts["orders"], counts["paid_orders"]) == (10, 50, 50)
    orders_md = result.asset_materializations_for_node("raw_jaffle_shop")[1].metadata
    assert orders_md["dagster/row_count"].value == 50
    assert [c.name for c in orders_md["dagster/column_schema"].schema.columns] == [
        "order_id", "customer_id", "order_date", "status"]


def test_rerun_replaces_table_instead_of_appending(tmp_path):
    warehouse = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))
    resources = {"io_manager": WarehouseIOManager(warehouse=warehouse)}
    for n in (50, 30):
        cfg = {"ops": {"raw_jaffle_shop": {"config": {"n_customers": 10, "n_orders": n}}}}
        assert dg.materialize([raw_jaffle_shop], resources=resources, run_config=cfg).success
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.orders")["n"][0] == 30


def test_wrong_config_names_the_field():
    with pytest.raises(dg.DagsterInvalidConfigError, match="n_orders"):
        dg.materialize(
            [raw_jaffle_shop],
            resources={"io_manager": dg.mem_io_manager},
            run_config={"ops": {"raw_jaffle_shop": {"config": {"n_orders": "many"}}}},
        )


def test_heartbeat_prints_and_counts(capfd):
    result = heartbeat_job.execute_in_process(
        run_config={"ops": {"heartbeat": {"config": {"seconds": 0, "message": "probe-xyz"}}}}
    )
    assert result.success
    out, err = capfd.readouterr()
    assert "probe-xyz stdout 1" in out and "probe-xyz stderr 1" in err


def test_op_outputs_are_refused_by_the_warehouse_io_manager(tmp_path):
    @dg.op
    def not_an_asset() -> int:
        return 1

    @dg.job
    def op_job():
        not_an_asset()

    warehouse = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))
    result = op_job.execute_in_process(
        resources={"io_manager": WarehouseIOManager(warehouse=warehouse)}, raise_on_error=False
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "stores asset outputs only; output 'result' of op 'not_an_asset'" in str(failure.step_failure_data.error)
