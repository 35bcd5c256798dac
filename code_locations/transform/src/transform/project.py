"""The dbt project that ships inside this package (see prepare.sh and pyproject's artifacts)."""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).parent / "dbt_project"

# The manifest is always parsed for the images' target, as prepare.sh does; each
# run picks its own target (transform.definitions).
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target="postgres")
# Under `dagster dev` / `dg dev`, re-parse on load so model edits show up at once.
# Images and tests use the manifest prepare.sh wrote.
dbt_project.prepare_if_dev()
