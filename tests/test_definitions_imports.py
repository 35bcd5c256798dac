"""Loading a location's definitions imports no data library.

Every code server loads the definitions once, and every run worker loads them
again before its first step: pandas alone is 0.4 s of a run's start and about
40 MB of each code server (docs/performance.md). The libraries are imported
where a step uses them, and `platform_common.DataFrame` types the asset
signatures without pandas.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.platform import LOCATIONS

ROOT = Path(__file__).resolve().parents[1]
UV = os.environ.get("UV") or shutil.which("uv") or "uv"
HEAVY = ("pandas", "numpy", "duckdb", "matplotlib", "PIL", "pyarrow")

PROBE = f"""
import json, sys
import {{location}}.definitions as module
defs = module.defs()  # @dg.definitions: built as the code server builds it
assert defs.resolve_all_asset_specs(), "no assets"
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


@pytest.mark.parametrize("location", LOCATIONS)
def test_the_definitions_load_without_pandas_numpy_duckdb_or_matplotlib(location):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "VIRTUAL_ENV"))}
    proc = subprocess.run([UV, "run", "--frozen", "--exact", "--group", "dev", "python", "-W", "ignore",
                           "-c", PROBE.format(location=location)],
                          cwd=ROOT / "code_locations" / location, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
