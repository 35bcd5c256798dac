import dagster as dg
import pandas as pd
import pytest

from platform_common import Warehouse, WarehouseIOManager

DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@pytest.fixture
def warehouse(tmp_path):
    return Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))


def make_asset(rows_for):
    @dg.asset(key=["raw", "events"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def events(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return rows_for(context.partition_key)

    return events


def rows(day, n, extra=None):
    frame = pd.DataFrame({"day": pd.to_datetime([day] * n), "n": range(n)})
    return frame.assign(**(extra or {}))


def materialize(warehouse, asset, day):
    return dg.materialize([asset], partition_key=day, raise_on_error=False,
                          resources={"io_manager": WarehouseIOManager(warehouse=warehouse)})


def counts(warehouse):
    frame = warehouse.read_sql("SELECT CAST(day AS DATE) AS d, count(*) AS n FROM raw.events GROUP BY 1 ORDER BY 1")
    return {str(d): int(n) for d, n in zip(frame["d"], frame["n"])}


def test_partition_rewrite_replaces_only_its_rows(warehouse):
    assert materialize(warehouse, make_asset(lambda d: rows(d, 3)), "2024-01-01").success
    assert materialize(warehouse, make_asset(lambda d: rows(d, 2)), "2024-01-02").success
    assert materialize(warehouse, make_asset(lambda d: rows(d, 5)), "2024-01-01").success
    assert counts(warehouse) == {"2024-01-01": 5, "2024-01-02": 2}


def test_failed_write_leaves_previous_data_intact(warehouse):
    assert materialize(warehouse, make_asset(lambda d: rows(d, 3)), "2024-01-01").success
    # The delete of the old rows succeeds, then the insert fails on a value
    # that is not an integer: the whole transaction must roll back.
    broken = make_asset(lambda d: rows(d, 4).assign(n=["1", "2", "three", "4"]))
    result = materialize(warehouse, broken, "2024-01-01")
    assert not result.success
    assert counts(warehouse) == {"2024-01-01": 3}


def test_unpartitioned_replace_is_atomic(warehouse):
    @dg.asset(key=["marts", "t"])
    def good() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2, 3]})

    @dg.asset(key=["marts", "t"])
    def bad() -> pd.DataFrame:
        return pd.DataFrame([[4, 5]], columns=["a", "a"])  # CREATE TABLE fails after the DROP

    io = {"io_manager": WarehouseIOManager(warehouse=warehouse)}
    assert dg.materialize([good], resources=io).success
    assert not dg.materialize([bad], resources=io, raise_on_error=False).success
    assert warehouse.read_sql("SELECT a FROM marts.t ORDER BY a")["a"].tolist() == [1, 2, 3]


def test_metadata_has_row_count_schema_and_preview(warehouse):
    result = materialize(warehouse, make_asset(lambda d: rows(d, 3)), "2024-01-01")
    md = result.asset_materializations_for_node("raw__events")[0].metadata
    assert md["dagster/row_count"].value == 3
    assert [c.name for c in md["dagster/column_schema"].schema.columns] == ["day", "n"]
    assert md["dagster/table_name"].value == "warehouse.raw.events"
    assert "| day | n |" in md["preview"].value


def test_partitioned_write_into_a_table_of_another_shape_is_refused(warehouse):
    assert materialize(warehouse, make_asset(lambda d: rows(d, 3)), "2024-01-01").success
    widened = make_asset(lambda d: rows(d, 2, extra={"note": "x"}))
    result = materialize(warehouse, widened, "2024-01-02")
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert ("table raw.events has columns ['day', 'n'] but the asset now produces ['day', 'n', 'note']"
            in str(failure.step_failure_data.error))
    assert counts(warehouse) == {"2024-01-01": 3}
