"""Reading the list of locations (dg.toml) and their declarations, refusing bad ones by file and key."""

import pytest
from conftest import REPO, write_location

from platformctl import locations

DG_PROJECT = '[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "ingest"\n'


def test_the_repository_declares_every_location():
    found = {loc.name: loc for loc in locations.discover(REPO)}
    assert list(found) == locations.names(REPO)
    assert set(found) >= {"ingest", "transform", "reports", "housekeeping"}
    assert found["ingest"].warehouse_writes == ("raw",) and found["ingest"].bucket_reads == ("landing",)
    assert found["transform"].warehouse_reads == ("raw",)
    assert found["reports"].warehouse_reads == ("marts",)
    assert found["housekeeping"].compose_environment == (
        ("DAGSTER_RUN_RETENTION_DAYS", "${DAGSTER_RUN_RETENTION_DAYS:-90}"),)
    assert found["ingest"].owners == ("@example/ingest-team",)


def test_discover_follows_dg_tomls_order(repo):
    assert [loc.name for loc in locations.discover(repo)] == ["ingest", "transform", "reports"]
    assert locations.names(repo) == ["ingest", "transform", "reports"]


def test_entries_name_their_line(repo):
    lines = (repo / "dg.toml").read_text().splitlines()
    for entry in locations.listed(repo):
        assert lines[entry.line - 1] == f'path = "code_locations/{entry.name}"'
    assert locations.listed(repo)[2].where == "dg.toml:12: workspace.projects[2] path = 'code_locations/reports'"


def append(repo, text):
    (repo / "dg.toml").write_text((repo / "dg.toml").read_text() + text)


@pytest.mark.parametrize(("setup", "message"), [
    (lambda r: write_location(r, "billing", listed=False),
     'code_locations/billing: a location folder that dg.toml does not list: add\n  [[workspace.projects]]\n'
     '  path = "code_locations/billing"\nto dg.toml, or remove the folder'),
    (lambda r: append(r, '\n[[workspace.projects]]\npath = "code_locations/billing"\n'),
     "dg.toml:15: workspace.projects[3] path = 'code_locations/billing': no such folder: create it "
     "(make new-location NAME=billing) or remove the entry"),
    (lambda r: ((r / "code_locations/billing").mkdir(),
                append(r, '\n[[workspace.projects]]\npath = "code_locations/billing"\n')),
     "dg.toml:15: workspace.projects[3] path = 'code_locations/billing': has no pyproject.toml"),
    (lambda r: append(r, '\n[[workspace.projects]]\npath = "code_locations/ingest"\n'),
     "dg.toml:15: workspace.projects[3] path = 'code_locations/ingest': listed twice (first at line 6)"),
    (lambda r: append(r, '\n[[workspace.projects]]\npath = "libs/platform_common"\n'),
     "dg.toml:15: workspace.projects[3] path = 'libs/platform_common': a location lives in code_locations/<name>"),
    (lambda r: append(r, '\n[[workspace.projects]]\npath = "code_locations/Bad-Name"\n'),
     "'Bad-Name' is not a valid location name"),
    (lambda r: append(r, "\n[[workspace.projects]]\nname = \"x\"\n"), "dg.toml:14: workspace.projects[3] has no path"),
    (lambda r: (r / "dg.toml").write_text("directory_type = \"project\"\n"),
     'dg.toml: directory_type must be "workspace"'),
    (lambda r: (r / "dg.toml").write_text("[workspace\n"), "dg.toml: not valid TOML"),
    (lambda r: (r / "dg.toml").unlink(), "dg.toml: not found"),
])
def test_a_list_that_disagrees_with_the_folders_is_named(repo, setup, message):
    setup(repo)
    with pytest.raises(locations.DeclarationError) as err:
        locations.names(repo)
    assert message in str(err.value)
    with pytest.raises(locations.DeclarationError):
        locations.discover(repo)


def test_a_folder_without_a_pyproject_or_a_staging_folder_is_not_a_location(repo):
    (repo / "code_locations/notes").mkdir()
    (repo / "code_locations/.billing.new-location-x1").mkdir()
    (repo / "code_locations/.billing.new-location-x1/pyproject.toml").write_text("")
    assert locations.names(repo) == ["ingest", "transform", "reports"]


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
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text(
        "[tool.dagster]\nmodule_name = \"ingest.definitions\"\n" + DG_PROJECT),
     "code_locations/ingest/pyproject.toml: no [tool.dagster-platform] table"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text("[tool\n"),
     "code_locations/ingest/pyproject.toml: not valid TOML"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text(
        "[tool.dagster]\nmodule_name = \"ingest.definitions\"\n" + DG_PROJECT + "[tool.dagster-platform]\nwarehose = {}\n"),
     "[tool.dagster-platform] has unknown keys ['warehose']"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text(
        "[tool.dagster]\nmodule_name = \"ingest.definitions\"\n[tool.dagster-platform]\n"),
     'code_locations/ingest/pyproject.toml: [tool.dg] directory_type = "project" and [tool.dg.project] '
     'root_module = "ingest" are required'),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text(
        "[tool.dagster]\nmodule_name = \"ingest.definitions\"\n" + DG_PROJECT +
        "[tool.dagster-platform.compose.environment]\nINGEST_API_TOKEN = \"x\"\n"),
     "tool.dagster-platform.compose.environment: 'INGEST_API_TOKEN' looks like a secret"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text(
        "[tool.dagster]\nmodule_name = \"ingest.definitions\"\n" + DG_PROJECT +
        "[tool.dagster-platform.compose.environment]\nlower = \"x\"\n"),
     "'lower' is not an environment variable name"),
    (lambda r: (r / "code_locations/ingest/pyproject.toml").write_text(
        "[tool.dagster]\nmodule_name = \"ingest.definitions\"\n" + DG_PROJECT +
        "[tool.dagster-platform]\nowners = [\"ingest team\"]\n"),
     "tool.dagster-platform.owners: ['ingest team'] are not valid names"),
])
def test_a_bad_declaration_is_named(repo, setup, message):
    setup(repo)
    with pytest.raises(locations.DeclarationError) as err:
        locations.discover(repo)
    assert message in str(err.value)
