"""What the location images leave out at build time (docker/Dockerfile) is never needed."""

import pytest

from tests.e2e.platform import LOCATIONS, docker, inspect, launch, service_container, wait_for_status
from tests.test_cli import output_and_frozen, shim_frozen_at_exit

FORMAT_AS_DBT = """
import agate, babel, babel.numbers, pathlib
locale = agate.config.get_option("default_locale")
data = sorted(p.name for p in (pathlib.Path(babel.__file__).parent / "locale-data").glob("*.dat"))
print(locale, babel.numbers.format_decimal(1234567.891, locale=locale), len(data))
"""


def test_transform_image_formats_numbers_as_dbt_does_with_english_locale_data_only():
    image = inspect(service_container("transform"))["Config"]["Image"]
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", FORMAT_AS_DBT)
    locale, formatted, files = out.split()
    assert (locale, formatted) == ("en_US_POSIX", "1234567.891")  # the C.UTF-8 locale, as agate sees it
    assert int(files) == 4  # root, en, en_US, en_US_POSIX: the rest of Babel's 1,000 locales are gone


@pytest.mark.parametrize("service", ["webserver", *LOCATIONS])
def test_dagster_in_every_image_is_dagsters_cli_with_its_start_frozen(service):
    """libs/platform_services/bin/dagster comes first on the images' PATH."""
    image = inspect(service_container(service))["Config"]["Image"]
    path = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", "command -v dagster").strip()
    assert path == "/opt/platform/bin/dagster"
    assert docker("run", "--rm", "--network", "none", image, "dagster", "--version").strip() == "dagster, version 1.13.27"
    version, frozen, enabled = output_and_frozen(docker(
        "run", "--rm", "--network", "none", "--entrypoint", "python", image,
        "-c", shim_frozen_at_exit("/opt/platform/bin/dagster", "--version")))
    assert version == "dagster, version 1.13.27"
    assert frozen > 100_000 and enabled  # Dagster's modules, kept out of the collector's passes


def test_a_run_container_starts_the_run_worker_with_the_images_dagster():
    run_id = launch("ingest", "probe_job")
    wait_for_status(run_id, {"SUCCESS"})
    (container,) = docker("ps", "-a", "-q", "--filter", f"label=dagster/run_id={run_id}").split()
    config = inspect(container)["Config"]
    assert config["Cmd"][:3] == ["dagster", "api", "execute_run"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].split(":")[:2] == ["/opt/platform/bin", "/opt/venv/bin"]


AFTER_THE_COMMAND = """
import atexit, runpy, sys

def report():
    from transform.definitions import defs
    assets = len(defs().resolve_all_asset_keys())
    loaded = sorted({m.partition(".")[0] for m in sys.modules} & {"dbt", "dbt_common", "agate", "networkx"})
    try:
        import dbt.version
        importable = "importable"
    except ModuleNotFoundError as error:
        importable = "kept-out" if "transform.STEP_ONLY_PACKAGES" in str(error) else repr(error)
    print("REPORT", assets, ",".join(loaded) or "-", importable)

atexit.register(report)
sys.argv = ["/opt/platform/bin/dagster", *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize(("command", "expected"), [
    (["api", "grpc", "--help"], "9 - kept-out"),
    (["api", "execute_run", "--help"], "9 - kept-out"),
    (["api", "execute_step", "--help"], "9 agate,dbt,dbt_common,networkx importable"),
    (["--version"], "9 agate,dbt,dbt_common,networkx importable"),
])
def test_transforms_code_server_and_run_workers_load_its_definitions_without_dbt_core(command, expected):
    """The images' `dagster`, run as the transform image runs it: the code server and
    the run worker load all 9 assets without dbt-core (transform.STEP_ONLY_PACKAGES);
    a step's own process imports it, as the dbt build's row counts need."""
    image = inspect(service_container("transform"))["Config"]["Image"]
    out = docker("run", "--rm", "--network", "none", "-e", "DAGSTER_PLATFORM_ENV=docker", "--entrypoint", "python",
                 image, "-W", "ignore", "-c", AFTER_THE_COMMAND, *command)
    [report] = [line for line in out.splitlines() if line.startswith("REPORT ")]
    assert report == f"REPORT {expected}"
