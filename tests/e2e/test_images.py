"""What the location images leave out at build time (docker/Dockerfile) is never needed."""

import pytest
from platformctl import upgrade

from tests.e2e.platform import LOCATIONS, ROOT, docker, gql, inspect, launch, service_container, wait_for_status

PROBE_METADATA = """
query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
  assetMaterializations(limit: 1) { runId metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""

RELEASE = upgrade.release(ROOT)  # the one Dagster pin (root pyproject.toml)

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
def test_dagster_in_every_image_is_dagsters_own(service):
    """No command of ours stands in front of Dagster's (docs/adr/0005)."""
    image = inspect(service_container(service))["Config"]["Image"]
    path = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", "command -v dagster").strip()
    assert path == "/opt/venv/bin/dagster"
    assert docker("run", "--rm", "--network", "none", image, "dagster", "--version").strip() == f"dagster, version {RELEASE.core}"


def test_a_run_container_starts_the_run_worker_with_dagsters_own_command():
    run_id = launch("housekeeping", "probe_job")
    wait_for_status(run_id, {"SUCCESS"})
    (container,) = docker("ps", "-a", "-q", "--filter", f"label=dagster/run_id={run_id}").split()
    config = inspect(container)["Config"]
    assert config["Entrypoint"] == ["/opt/platform/bin/entrypoint"]  # exports the location's credentials
    assert config["Cmd"][:3] == ["dagster", "api", "execute_run"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"
    # The worker held the garbage collector back while it loaded housekeeping's code,
    # then froze it (docs/adr/0007): Dagster's own command, Python's own API.
    assert env["DAGSTER_PLATFORM_STARTUP_GC"] == "defer"
    [probe] = gql(PROBE_METADATA, key={"path": ["platform", "probe"]})["assetOrError"]["assetMaterializations"]
    assert probe["runId"] == run_id
    frozen = {e["label"]: e["intValue"] for e in probe["metadataEntries"]}["startup_gc_frozen_objects"]
    assert frozen > 50_000
