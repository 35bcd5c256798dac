import json
import os

import dagster as dg
import pydantic
import pytest

from conftest import LOCATION_DIR, MANIFEST
from transform.definitions import defs
from transform.defs.assets import DbtBuildConfig

RAW = {dg.AssetKey(["raw", name]) for name in ("customers", "orders", "payments")}


def key(path: str) -> dg.AssetKey:
    return dg.AssetKey.from_user_string(path)


def test_definitions_load_with_the_dbt_models_under_the_contract_keys():
    loaded = defs()
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert keys == {
        "raw/customers", "raw/orders", "raw/payments",
        "staging/stg_customers", "staging/stg_orders", "staging/stg_payments",
        "marts/orders", "marts/customers", "marts/customer_cohorts",
    }
    job = loaded.resolve_job_def("transform_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == keys - {k.to_user_string() for k in RAW}
    assert loaded.resolve_sensor_def("raw_data_sensor").job_name == "transform_job"


def test_dbt_sources_depend_on_ingest_asset_keys():
    graph = defs().resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()}
    assert parents["staging/stg_customers"] == {"raw/customers"}
    assert parents["staging/stg_orders"] == {"raw/orders"}
    assert parents["staging/stg_payments"] == {"raw/payments"}
    assert parents["marts/orders"] == {"staging/stg_orders", "staging/stg_payments"}
    assert parents["marts/customers"] == {"staging/stg_customers", "marts/orders"}
    assert parents["marts/customer_cohorts"] == {"marts/orders"}
    for raw in RAW:  # ingest owns these: here they are references, not materializable
        assert not graph.get(raw).is_materializable


def test_asset_metadata_owners_groups_kinds_and_code_versions():
    graph = defs().resolve_asset_graph()
    for path, group in [("staging/stg_orders", "staging"), ("marts/orders", "marts"), ("marts/customers", "marts")]:
        node = graph.get(key(path))
        assert node.group_name == group
        assert node.owners == ["team:transform"]
        assert "dbt" in node.kinds
        assert node.code_version  # the SQL's hash: changed SQL shows as changed code
        assert node.description
    assert graph.get(key("marts/customer_cohorts")).kinds >= {"sql"}
    columns = graph.get(key("marts/orders")).metadata["dagster/column_schema"].columns
    assert [c.name for c in columns][-1] == "amount_cents"


def test_correctness_guards_are_blocking_checks_and_the_orphan_payment_test_is_not():
    graph = defs().resolve_asset_graph()
    blocking = {c.name: graph.get_check_spec(c).blocking for c in graph.asset_check_keys}
    assert blocking["payments_reconcile"]
    for name in (
        "unique_stg_orders_order_id", "not_null_stg_orders_order_id", "not_null_stg_payments_payment_id",
        "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_",
        "accepted_values_stg_orders_status__placed__shipped__completed__return_pending__returned",
        "unique_orders_order_id", "unique_customers_customer_id",
    ):
        assert blocking[name], name
    assert not blocking["relationships_stg_payments_order_id__order_id__ref_stg_orders_"]


def test_the_environment_picks_the_dbt_target(monkeypatch, tmp_path):
    assert defs().resources["dbt"].target == "duckdb"
    assert os.environ["DBT_DUCKDB_PATH"] == str(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "docker")
    assert defs().resources["dbt"].target == "postgres"


def test_dbt_build_config_is_validated():
    assert DbtBuildConfig(full_refresh=True, threads=4).flags() == ["--full-refresh", "--threads", "4"]
    assert DbtBuildConfig().flags() == []
    # A Failure that the dbt step's RetryPolicy does not retry, with pydantic's message.
    with pytest.raises(dg.Failure, match="1 validation error for DbtBuildConfig\nthreads\n") as raised:
        DbtBuildConfig(threads=0)
    assert raised.value.allow_retries is False
    assert isinstance(raised.value.__cause__, pydantic.ValidationError)


def test_the_manifest_was_prepared_by_prepare_sh_for_the_images_target():
    """prepare.sh (the image build step; conftest runs it with no warehouse settings) wrote it."""
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["metadata"]["adapter_type"] == "postgres"
    models = {n["name"]: n["schema"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert models == {"stg_customers": "staging", "stg_orders": "staging", "stg_payments": "staging",
                      "orders": "marts", "customers": "marts"}
    assert "dbt parse" in (LOCATION_DIR / "prepare.sh").read_text()
