"""grant_problems: a location's declared schemas against what its assets use."""

import dagster as dg
import pytest

from platform_common.grants import grant_problems


@dg.asset(key=["raw", "orders"], kinds={"postgres"})
def raw_orders() -> None: ...


@dg.asset(key=["marts", "orders"], kinds={"dbt", "postgres"}, deps=[dg.AssetKey(["raw", "orders"])])
def marts_orders() -> None: ...


@dg.asset(key=["charts", "revenue"], kinds={"matplotlib", "s3"}, deps=[dg.AssetKey(["marts", "orders"])])
def chart() -> None: ...


def pyproject(tmp_path, writes, reads):
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.dagster-platform.warehouse]\nwrites = {writes!r}\nreads = {reads!r}\n".replace("'", '"'))
    return path


DOWNSTREAM = dg.Definitions(assets=[dg.AssetSpec(["raw", "orders"]), marts_orders, chart])


def test_a_declaration_that_matches_has_no_problem(tmp_path):
    assert grant_problems(DOWNSTREAM, pyproject(tmp_path, ["marts"], ["raw"])) == []


@pytest.mark.parametrize(("writes", "reads", "message"), [
    ([], ["raw"], "writes lacks 'marts', where marts/orders land"),
    (["marts"], [], "reads lacks 'raw', which holds raw/orders"),
    (["marts"], ["raw", "reports"], "reads 'reports', but no asset it depends on is there"),
])
def test_each_mismatch_is_named(tmp_path, writes, reads, message):
    problems = grant_problems(DOWNSTREAM, pyproject(tmp_path, writes, reads))
    assert len(problems) == 1 and message in problems[0], problems
    assert "pyproject.toml: [tool.dagster-platform.warehouse]" in problems[0]


def test_assets_outside_the_warehouse_need_no_schema(tmp_path):
    # charts/revenue is a file in the object store: no `charts` schema to own.
    defs = dg.Definitions(assets=[raw_orders, chart, dg.AssetSpec(["marts", "orders"])])
    assert grant_problems(defs, pyproject(tmp_path, ["raw"], ["marts"])) == []
