"""The grants this location declares (pyproject.toml, [tool.dagster-platform])
are exactly what its assets need: the platform's init grants nothing more."""

from pathlib import Path

from platform_common.grants import grant_problems

from housekeeping.definitions import defs

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_declared_warehouse_grants_match_the_asset_graph():
    assert grant_problems(defs(), PYPROJECT) == []
