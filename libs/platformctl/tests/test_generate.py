"""What is generated from dg.toml: the texts, and that hand edits outside the generated parts stay."""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, write_location

from platformctl import generate, locations

COPIED = ["docker/compose.yaml", "helm/dagster-platform/values.yaml", "bench/compose.reference.yaml",
          ".github/CODEOWNERS", "README.md"]


@pytest.fixture
def tree(repo):
    """The fixture's three locations, with the repository's files that list them."""
    for rel in COPIED:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, repo / rel)
    (repo / "helm/values").mkdir()
    return repo


def cli(root, *args):
    env = {**os.environ, "PYTHONPATH": str(REPO / "libs/platformctl/src"), "PLATFORM_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "platformctl", *args], env=env, capture_output=True, text=True)


def test_the_repository_is_up_to_date():
    wanted, problems = generate.plan(REPO)
    assert (generate.stale(REPO, wanted), problems) == ([], [])


def test_workspace_yaml_lists_every_location_in_order(repo):
    text = generate.workspace_yaml(locations.discover(repo))
    assert text.startswith("# Generated from dg.toml")
    assert text.split("load_from:\n", 1)[1] == "".join(
        f"  - grpc_server:\n      host: {n}\n      port: 4000\n      location_name: {n}\n"
        for n in ("ingest", "transform", "reports"))


def test_compose_services_copy_the_anchors_they_use(tree):
    found = locations.discover(tree)
    text = generate.compose_locations((REPO / "docker/compose.yaml").read_text(), found)
    assert [line for line in text.splitlines() if line.startswith("x-")] == [
        "x-platform-env: &platform-env", "x-hardening: &hardening", "x-code-location: &code-location"]
    assert "x-run-launching" not in text  # not used by a location service
    assert "  transform:\n    <<: *code-location\n    image: ${REGISTRY:-localhost}/dagster-platform/transform:" \
           "${TRANSFORM_TAG:?run through make, which sets the image tags}\n" in text
    assert ("      DAGSTER_CONTAINER_CONTEXT: '{\"docker\": {\"container_kwargs\": {\"labels\": "
            "{\"dagster-platform/location\": \"reports\"}, \"volumes\": "
            "[\"${PROJECT:-dagster-platform}_secrets-reports:/run/secrets/platform:ro\"]}}}'\n") in text
    for service in ("webserver", "daemon"):
        block = text.split(f"\n  {service}:\n", 1)[1].split("\n  daemon:")[0].split("\n\n")[0]
        assert block.splitlines() == ["    depends_on:"] + [
            f"      {n}: {{condition: service_healthy}}" for n in ("ingest", "transform", "reports")]
    assert text.endswith('  secrets-reports: {external: true, name: "${PROJECT:-dagster-platform}_secrets-reports"}\n')


def test_a_location_adds_plain_settings_to_its_service(tree):
    pyproject = tree / "code_locations/reports/pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '[tool.dagster-platform.compose.environment]\n'
                         'REPORTS_DAYS = "${REPORTS_DAYS:-7}"\n')
    text = generate.compose_locations((REPO / "docker/compose.yaml").read_text(), locations.discover(tree))
    assert '      <<: *platform-env\n      REPORTS_DAYS: "${REPORTS_DAYS:-7}"\n      DAGSTER_CONTAINER_CONTEXT' in text


def test_a_compose_file_without_the_anchor_is_named():
    with pytest.raises(generate.Failed, match=r"docker/compose.yaml: no top-level x- block defines &code-location"):
        generate.compose_locations("services: {}\n", [])


VALUES = """# a comment above
codeLocations:
  # the defaults
  - name: ingest
    host: somewhere-else
    port: 4001
    credentialsSecret: ingest-creds
    warehouse: {writes: [old], reads: []}
    objectStore: {reads: [landing]}
    extra:
      nested: true
  - name: gone
    host: dagster-code-gone
    port: 4000

# Scheduling defaults
nodeSelector: {}
"""


def test_platform_values_keep_other_keys_derive_the_rest_and_follow_dg_toml(repo):
    found = locations.discover(repo)
    assert generate.platform_values(VALUES, found) == """# a comment above
codeLocations:
  # the defaults
  - name: ingest
    host: dagster-code-ingest
    port: 4000
    credentialsSecret: ingest-creds
    warehouse: {writes: [raw], reads: []}
    objectStore: {reads: [landing]}
    extra:
      nested: true
  - name: transform
    host: dagster-code-transform
    port: 4000
    credentialsSecret: ""
    warehouse: {writes: [staging, marts], reads: [raw]}
    objectStore: {reads: []}
  - name: reports
    host: dagster-code-reports
    port: 4000
    credentialsSecret: ""
    warehouse: {writes: [reports], reads: [marts]}
    objectStore: {reads: []}

# Scheduling defaults
nodeSelector: {}
"""


def test_platform_values_without_grant_keys_get_name_host_and_port(repo):
    text = "codeLocations:\n  - name: ingest\n    host: dagster-code-ingest\n    port: 4000\n"
    out = generate.platform_values(text, locations.discover(repo))
    assert out.splitlines()[-3:] == ["  - name: reports", "    host: dagster-code-reports", "    port: 4000"]


@pytest.mark.parametrize("text", ["codeLocations: []\n", "image: {}\n", "codeLocations:\n  name: x\n",
                                  "codeLocations:\n  - {name: ingest, host: h, port: 4000}\n"])
def test_platform_values_not_shaped_as_a_block_list_are_named(repo, text):
    with pytest.raises(generate.Failed, match="helm/dagster-platform/values.yaml: "):
        generate.platform_values(text, locations.discover(repo))


def test_bench_reference_has_one_line_per_location(repo):
    text = "services:\n  webserver: *reference-instance\n  ingest: *reference-code-server\n  gone: *reference-code-server\n"
    assert generate.bench_reference(text, locations.discover(repo)).splitlines()[2:] == [
        f"  {n}: *reference-code-server" for n in ("ingest", "transform", "reports")]


def test_codeowners_block_from_each_locations_owners(repo):
    pyproject = repo / "code_locations/transform/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        "[tool.dagster-platform.warehouse]", '[tool.dagster-platform]\nowners = ["@example/transform-team"]\n'
        "[tool.dagster-platform.warehouse]"))
    text = "*  @example/platform-team\n# BEGIN code locations (generated)\n/code_locations/gone/ @x/y\n# END code locations\n"
    assert generate.codeowners(text, locations.discover(repo)) == (
        "*  @example/platform-team\n# BEGIN code locations (generated)\n"
        "/code_locations/transform/  @example/transform-team\n# END code locations\n")


def test_readme_rows_are_kept_added_and_dropped(repo):
    text = ("intro\n\n| location | owns | what drives it |\n|---|---|---|\n| `reports` | its own words | a sensor |\n"
            "| `gone` | old | old |\n\nafter\n")
    out = generate.readme(text, locations.discover(repo))
    assert out.splitlines()[4:7] == [generate.readme_row("ingest"), generate.readme_row("transform"),
                                     "| `reports` | its own words | a sensor |"]
    assert out.endswith("| a sensor |\n\nafter\n") and "`gone`" not in out


def test_plan_writes_a_missing_helm_values_file_and_names_one_without_a_location(tree):
    (tree / "helm/values/gone.yaml").write_text("location: {name: gone}\n")
    wanted, problems = generate.plan(tree)
    assert wanted["helm/values/ingest.yaml"] == generate.location_values("ingest")
    assert "name: ingest\n  module: ingest.definitions" in wanted["helm/values/ingest.yaml"]
    assert problems == ["helm/values/gone.yaml: 'gone' is not a location in dg.toml: delete the file"]


def test_the_command_rewrites_what_is_stale_and_check_names_it(tree):
    first = cli(tree, "generate", "--check")
    assert first.returncode == 1
    assert "error: workspace.yaml is stale: run `make generate`" in first.stderr
    done = cli(tree, "generate")
    assert done.returncode == 0, done.stderr
    assert "wrote workspace.yaml" in done.stdout and "wrote helm/values/reports.yaml" in done.stdout
    assert (tree / ".generated/compose.locations.yaml").is_file()
    assert cli(tree, "generate", "--check").returncode == 0
    write_location(tree, "billing", writes=["billing"])
    stale = cli(tree, "generate", "--check")
    assert stale.returncode == 1
    for rel in ("workspace.yaml", "helm/dagster-platform/values.yaml", "bench/compose.reference.yaml",
                "README.md", "helm/values/billing.yaml"):
        assert f"error: {rel} is stale" in stale.stderr
    assert "CODEOWNERS" not in stale.stderr  # billing declares no owners: the platform team's


def test_a_bad_dg_toml_stops_the_command_naming_it(tree):
    (tree / "dg.toml").write_text((tree / "dg.toml").read_text().replace("reports", "reprts"))
    done = cli(tree, "generate", "--check")
    assert done.returncode == 1
    assert "platformctl generate: dg.toml:12: workspace.projects[2] path = 'code_locations/reprts'" in done.stderr


def test_the_compose_file_is_rewritten_only_when_it_changes(tree):
    path = generate.write_compose(tree)
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp - 10**9, stamp - 10**9))
    assert generate.write_compose(tree).stat().st_mtime_ns == stamp - 10**9
    write_location(tree, "billing", writes=["billing"])
    assert "  billing:\n" in generate.write_compose(tree).read_text()
