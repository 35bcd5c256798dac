"""A location's declared warehouse grants, checked against its asset graph.

A location declares in its pyproject.toml which schemas it writes and reads
([tool.dagster-platform.warehouse]); the platform's init grants exactly that.
`grant_problems` says where the declaration and the code disagree:

- an asset it materializes into the warehouse (a kind of postgres, duckdb or
  dbt) whose schema it does not declare in `writes`;
- an asset of another location it depends on (an external asset) whose schema
  it does not declare in `reads`;
- a schema in `reads` that none of its dependencies needs: grants only what
  the asset graph uses.

The schema of an asset is the one its table lands in (warehouse.table_for).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import dagster as dg

from platform_common.warehouse import table_for

WAREHOUSE_KINDS = frozenset({"postgres", "duckdb", "dbt"})


def declared(pyproject: Path) -> tuple[set[str], set[str]]:
    """(writes, reads) of [tool.dagster-platform.warehouse] in `pyproject`."""
    data = tomllib.loads(pyproject.read_text())
    warehouse = data.get("tool", {}).get("dagster-platform", {}).get("warehouse", {})
    return set(warehouse.get("writes", [])), set(warehouse.get("reads", []))


def used_schemas(defs: dg.Definitions) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """({schema: assets written there}, {schema: external assets read from there})."""
    graph = defs.resolve_asset_graph()
    written: dict[str, list[str]] = {}
    read: dict[str, list[str]] = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        schema = table_for(key)[0]
        if node.is_materializable:
            if WAREHOUSE_KINDS & set(node.kinds):
                written.setdefault(schema, []).append(key.to_user_string())
        else:
            read.setdefault(schema, []).append(key.to_user_string())
    return written, read


def grant_problems(defs: dg.Definitions, pyproject: Path) -> list[str]:
    writes, reads = declared(pyproject)
    written, read = used_schemas(defs)
    where = f"{pyproject}: [tool.dagster-platform.warehouse]"
    problems = [f"{where} writes lacks {schema!r}, where {', '.join(assets)} land"
                for schema, assets in written.items() if schema not in writes]
    problems += [f"{where} reads lacks {schema!r}, which holds {', '.join(assets)}"
                 for schema, assets in read.items() if schema not in reads | writes]
    problems += [f"{where} reads {schema!r}, but no asset it depends on is there: drop the grant"
                 for schema in sorted(reads - set(read))]
    return problems
