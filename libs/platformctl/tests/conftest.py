import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def write_location(root: Path, name: str, writes=(), reads=(), buckets=()) -> Path:
    project = root / "code_locations" / name
    project.mkdir(parents=True)
    q = lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"  # noqa: E731
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\n[tool.dagster]\nmodule_name = "{name}.definitions"\n'
        f"[tool.dagster-platform.warehouse]\nwrites = {q(writes)}\nreads = {q(reads)}\n"
        f"[tool.dagster-platform.object-store]\nreads = {q(buckets)}\n")
    return project


@pytest.fixture
def repo(tmp_path):
    """A repository root with the three locations as declared today."""
    write_location(tmp_path, "ingest", writes=["raw"], buckets=["landing"])
    write_location(tmp_path, "transform", writes=["staging", "marts"], reads=["raw"])
    write_location(tmp_path, "reports", writes=["reports"], reads=["marts"])
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    return tmp_path
