"""Whether this process imported dbt-core.

The images' `dagster` keeps dbt-core out of transform's code server and run
workers (transform.STEP_ONLY_PACKAGES). dagster-dbt then builds the very same
assets from the manifest without it (tests/test_dbt_core.py compares the two),
but a `dbt build` step needs it: dagster-dbt reads row counts and column
schemas through dbt-core's adapter. Such a step runs in a process of its own
(the multiprocess executor), which imports dbt-core as usual.
"""

import importlib.metadata

import dagster as dg
from dagster_dbt import compat
from dagster_shared.libraries import DagsterLibraryRegistry


def imported() -> bool:
    """Whether dagster-dbt loaded with dbt-core in this process."""
    return compat.DBT_PYTHON_VERSION is not None


def require() -> None:
    """Fail a step that needs dbt-core in a process that kept it out."""
    if not imported():
        raise dg.Failure(
            description=(
                "dbt-core is not imported in this process: the images' `dagster` keeps it out of "
                "transform's code server and run workers (transform.STEP_ONLY_PACKAGES), and a dbt "
                "build needs it for row counts and column schemas. Run the dbt step in a process of "
                "its own: the multiprocess executor, transform's executor in docker and k8s."
            ),
            allow_retries=False,  # the same process would fail the same way
        )


def report_installed_version() -> None:
    """Without dbt-core, dagster-dbt registers the library as "dbt-fusion", version
    "unknown", which the UI then shows for this location; report dbt-core instead."""
    if imported():
        return
    DagsterLibraryRegistry._libraries.pop("dbt-fusion", None)  # noqa: SLF001 - the registry has no remove
    DagsterLibraryRegistry.register("dbt-core", importlib.metadata.version("dbt-core"), is_dagster_package=False)
