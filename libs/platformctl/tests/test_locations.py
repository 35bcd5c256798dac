"""Reading the locations' declarations, and refusing bad ones by file and key."""

import pytest
from conftest import REPO, write_location

from platformctl import locations


def test_the_repository_declares_every_location():
    found = {loc.name: loc for loc in locations.discover(REPO)}
    assert set(found) >= {"ingest", "transform", "reports"}
    assert found["ingest"].warehouse_writes == ("raw",) and found["ingest"].bucket_reads == ("landing",)
    assert found["transform"].warehouse_reads == ("raw",)
    assert found["reports"].warehouse_reads == ("marts",)


def test_discover_reads_every_folder(repo):
    assert [loc.name for loc in locations.discover(repo)] == ["ingest", "reports", "transform"]


@pytest.mark.parametrize(("setup", "message"), [
    (lambda r: write_location(r, "zbilling", writes=["raw"]),
     "code_locations/zbilling/pyproject.toml: tool.dagster-platform.warehouse.writes: schema 'raw' is already "
     "written by location 'ingest'; a schema has one owner"),
    (lambda r: write_location(r, "billing", reads=["finance"]),
     "code_locations/billing/pyproject.toml: tool.dagster-platform.warehouse.reads: no location writes schema "
     "'finance'"),
    (lambda r: write_location(r, "billing", writes=["public"]), "'public' is reserved"),
    (lambda r: write_location(r, "billing", buckets=["nowhere"]), "'nowhere' is neither 'landing' nor a location"),
    (lambda r: write_location(r, "billing", writes=["Bad-Name"]), "['Bad-Name'] are not valid names"),
    (lambda r: write_location(r, "billing", writes=["x", "x"]), "lists a name twice"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text("[tool.dagster]\nmodule_name = \"ingest.definitions\"\n"),
     "code_locations/ingest/pyproject.toml: no [tool.dagster-platform] table"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text("[tool\n"),
     "code_locations/ingest/pyproject.toml: not valid TOML"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text(
        "[tool.dagster]\nmodule_name = \"ingest.definitions\"\n[tool.dagster-platform]\nwarehose = {}\n"),
     "[tool.dagster-platform] has unknown keys ['warehose']"),
])
def test_a_bad_declaration_is_named(repo, setup, message):
    setup(repo)
    with pytest.raises(locations.DeclarationError) as err:
        locations.discover(repo)
    assert message in str(err.value)
