import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def write_location(root: Path, name: str, writes=(), reads=(), buckets=(), listed=True) -> Path:
    """code_locations/NAME with its declarations, and (listed) its entry at the end of dg.toml."""
    project = root / "code_locations" / name
    project.mkdir(parents=True)
    q = lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"  # noqa: E731
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\n[tool.dagster]\nmodule_name = "{name}.definitions"\n'
        f'[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "{name}"\n'
        f"[tool.dagster-platform.warehouse]\nwrites = {q(writes)}\nreads = {q(reads)}\n"
        f"[tool.dagster-platform.object-store]\nreads = {q(buckets)}\n")
    if listed:
        dg_toml = root / "dg.toml"
        if not dg_toml.exists():
            dg_toml.write_text('directory_type = "workspace"\n\n[workspace]\n')
        dg_toml.write_text(dg_toml.read_text() + f'\n[[workspace.projects]]\npath = "code_locations/{name}"\n')
    return project


@pytest.fixture
def repo(tmp_path):
    """A repository root with the three original locations, declared as today, in dg.toml."""
    write_location(tmp_path, "ingest", writes=["raw"], buckets=["landing"])
    write_location(tmp_path, "transform", writes=["staging", "marts"], reads=["raw"])
    write_location(tmp_path, "reports", writes=["reports"], reads=["marts"])
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    return tmp_path
