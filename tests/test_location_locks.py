"""What the code-location images install, read from their lock files."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCKS = sorted(ROOT.glob("code_locations/*/uv.lock")) + [ROOT / "libs/platform_common/uv.lock"]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_no_image_installs_pyarrow(lock):
    # ~170 MB per image for Parquet alone; platform_common reads and writes Parquet with DuckDB.
    packages = {p["name"] for p in tomllib.loads(lock.read_text())["package"]}
    assert "pyarrow" not in packages
