"""The Dagster UI of the running platform, seen in a real browser.

GraphQL says what must be there (locations, assets and their dependencies,
schedules, sensors); every assertion is about what the page shows. Playwright's
expectations wait by themselves; nothing sleeps.
"""

import re
from itertools import pairwise

from playwright.sync_api import expect
from platformctl.screenshot import GRAPH_SVG, dependency_edges, key_str, lineage_url, wait_for_graph

from tests.e2e.platform import LOCATIONS, WEBSERVER, gql, launch, run_failure, run_info, wait_for_status

RUN_TIMEOUT_MS = 240_000

# ---------------------------------------------------------------- code locations


def test_code_locations_page_shows_every_location_loaded(page):
    page.goto("/locations")  # Dagster 1.13 serves it at /deployment/locations
    expect(page.get_by_text(f"{len(LOCATIONS)} code locations", exact=True)).to_be_visible()
    for location in LOCATIONS:
        row = page.locator("[data-index]").filter(has=page.locator(f'a[href="/locations/{location}/"]'))
        expect(row).to_have_count(1)
        expect(row.get_by_text(location, exact=True).first).to_be_visible()
        expect(row.get_by_text("Loaded", exact=True)).to_be_visible()


# ------------------------------------------------------------------ asset graph

ASSET_NODES = """{ assetNodes { assetKey { path } groupName dependencyKeys { path }
  repository { name location { name } } } }"""
CHAIN = ["raw/orders", "marts/orders", "reports/daily_revenue"]


def reachable(edges: set[tuple[str, str]], source: str, target: str) -> bool:
    seen, todo = set(), [source]
    while todo:
        node = todo.pop()
        if node == target:
            return True
        seen.add(node)
        todo += [b for a, b in edges if a == node and b not in seen]
    return False


def test_asset_graph_draws_the_lineage_from_ingest_through_transform_to_reports(page):
    assets = gql(ASSET_NODES)["assetNodes"]
    location = {key_str(a["assetKey"]["path"]): a["repository"]["location"]["name"] for a in assets}
    dependencies = dependency_edges(assets)
    crossing = {(location[a], location[b]) for a, b in dependencies}
    assert {("ingest", "transform"), ("transform", "reports")} <= crossing, sorted(crossing)
    for upstream, downstream in pairwise(CHAIN):
        assert reachable(dependencies, upstream, downstream), f"GraphQL: no path {upstream} -> {downstream}"

    page.goto(lineage_url(WEBSERVER, assets))  # the "Lineage" page, every group expanded
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    graph = wait_for_graph(page, assets)

    # A node for every asset, the chain's in view; an edge for every dependency and
    # no other: each drawn path runs from one node's right side to another's left.
    assert set(graph["nodes"]) == set(location), graph["unplaced"]
    nodes = page.locator(GRAPH_SVG).first.locator(":scope > foreignObject")
    for key in CHAIN:
        label = nodes.nth(graph["nodes"][key]).get_by_text(key.split("/")[-1], exact=True).first
        expect(label).to_be_visible()
        expect(label).to_be_in_viewport()
    assert graph["edges"] == dependencies, {
        "missing": sorted(dependencies - graph["edges"]), "extra": sorted(graph["edges"] - dependencies),
    }
    assert not graph["loose_edges"], graph["loose_edges"]
    drawn_crossing = {(location[a], location[b]) for a, b in graph["edges"]}
    assert {("ingest", "transform"), ("transform", "reports")} <= drawn_crossing
    for upstream, downstream in pairwise(CHAIN):
        assert reachable(graph["edges"], upstream, downstream), f"no drawn path {upstream} -> {downstream}"


# ------------------------------------------------------------- materialize in UI

RUN_STATUS = re.compile(r"^(Queued|Not started|Starting|Started|Success|Failure|Canceling|Canceled)$")


def test_materialize_button_on_an_ingest_asset_launches_a_run_that_succeeds(page):
    page.goto("/assets/raw/customers")  # unpartitioned: no partition dialog
    materialize = page.get_by_role("button", name=re.compile(r"\bMaterialize$"))
    expect(materialize).to_be_enabled()
    materialize.click()

    toast = page.get_by_role("region", name=re.compile("Notifications")).locator("li", has_text="Launched run")
    dialog = page.get_by_role("dialog")
    expect(toast.or_(dialog).first).to_be_visible()
    if dialog.count() and not toast.count():  # config or partitions asked for: launch as proposed
        dialog.get_by_role("button", name=re.compile(r"\b(Launch run|Launch backfill|Materialize)$")).last.click()
    view = toast.get_by_role("link", name="View")
    expect(view).to_have_attribute("href", re.compile(r"^/runs/[0-9a-f-]{36}"))
    run_id = re.match(r"^/runs/([0-9a-f-]{36})", view.get_attribute("href")).group(1)
    assert run_info(run_id)["runId"] == run_id  # the API knows the run the UI launched

    view.click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}"))
    header = page.locator('[class*="PageHeader_titleRow"]').filter(has_text=run_id[:8])
    status = header.get_by_text(RUN_STATUS)
    expect(status).to_be_visible()
    expect(page.get_by_text("raw / customers").first).to_be_visible()
    # The run page follows the run live; wait until it shows an end state.
    expect(status).to_have_text(re.compile(r"^(Success|Failure|Canceled)$"), timeout=RUN_TIMEOUT_MS)
    assert status.inner_text() == "Success", run_failure(run_id)
    assert wait_for_status(run_id, {"SUCCESS"}, timeout=30)["status"] == "SUCCESS"


# ------------------------------------------------------------------ report chart

LATEST = """query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { __typename }
  assetOrError(assetKey: $key) { __typename ... on Asset { assetMaterializations(limit: 1) { runId } } } }"""
JOB_PARTITIONS = """query($params: PipelineSelector!) { pipelineOrError(params: $params) { __typename
  ... on Pipeline { partitionKeysOrError { __typename ... on PartitionKeys { partitionKeys } } } } }"""


def ensure_materialized(path: list[str], location: str, job: str) -> None:
    """Materialize `path` through its job if it never was (a fresh stack)."""
    latest = gql(LATEST, key={"path": path})
    assert latest["assetNodeOrError"]["__typename"] == "AssetNode", f"{key_str(path)} is not defined in the workspace"
    if latest["assetOrError"].get("assetMaterializations"):
        return
    selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "pipelineName": job}
    keys = gql(JOB_PARTITIONS, params=selector)["pipelineOrError"]["partitionKeysOrError"].get("partitionKeys")
    # A partitioned job runs over all its partitions in one run, as its sensor does.
    tags = {}
    if keys:
        tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    wait_for_status(launch(location, job, tags=tags), {"SUCCESS"}, timeout=RUN_TIMEOUT_MS / 1000)


def test_reports_chart_asset_page_shows_the_chart_from_its_metadata(page):
    ensure_materialized(["reports", "revenue_chart"], "reports", "reports_job")
    page.goto("/assets/reports/revenue_chart")
    chart = page.locator('img[src^="data:image/png;base64,"]')
    show = page.get_by_text(re.compile(r"^\[?Show markdown\]?$", re.I))
    expect(chart.or_(show).first).to_be_visible()
    if not chart.first.is_visible():  # markdown values too large for the table open in a dialog
        show.first.click()
    expect(chart.first).to_be_visible()
    chart.first.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.first.element_handle())
    width, height = chart.first.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > 0 and height > 0
    box = chart.first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50, box


# ---------------------------------------------------------- schedules and sensors

AUTOMATION = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { ... on RepositoryLocation { repositories { name
    schedules { name scheduleState { status } }
    sensors { name sensorType sensorState { status } } } } } } } } }"""


def automations() -> list[dict]:
    """Every schedule and sensor in the workspace: location, kind, name, type, status."""
    found = []
    for entry in gql(AUTOMATION)["workspaceOrError"]["locationEntries"]:
        for repo in (entry["locationOrLoadError"] or {}).get("repositories", []):
            for s in repo["schedules"]:
                found.append({"location": entry["name"], "kind": "schedules", "name": s["name"],
                              "type": "SCHEDULE", "status": s["scheduleState"]["status"]})
            for s in repo["sensors"]:
                found.append({"location": entry["name"], "kind": "sensors", "name": s["name"],
                              "type": s["sensorType"], "status": s["sensorState"]["status"]})
    return found


def expect_status_switch(row, status: str) -> None:
    """The row's Running/Stopped switch, after its selection checkbox. The switch
    shows once the row has loaded its state (a spinner until then)."""
    checkboxes = row.get_by_role("checkbox")
    expect(checkboxes).to_have_count(2)
    expect(checkboxes.last).to_be_checked(checked=status == "RUNNING")


def test_automation_page_lists_every_schedule_and_sensor_with_its_status(page):
    expected = automations()
    names = {(a["location"], a["kind"], a["name"]) for a in expected}
    assert {("ingest", "schedules", "ingest_daily_schedule"), ("housekeeping", "schedules", "heartbeat_schedule"),
            ("housekeeping", "schedules", "run_retention_schedule"), ("ingest", "sensors", "landing_sensor")} <= names, \
        sorted(names)

    page.goto("/automation")  # 1.13 redirects /overview/schedules and /overview/sensors here
    for item in expected:
        href = f"/locations/{item['location']}/{item['kind']}/{item['name']}"
        row = page.locator("[data-index]").filter(has=page.locator(f'a[href="{href}"]'))
        expect(row).to_have_count(1)
        expect(row.get_by_text(item["name"], exact=True)).to_be_visible()
        expect_status_switch(row, item["status"])


def test_automation_page_lists_the_sensors_that_chain_the_locations(page):
    expected = automations()
    transform = [a for a in expected if a["location"] == "transform" and a["kind"] == "sensors"]
    reports = [a for a in expected if a["location"] == "reports" and a["type"] == "RUN_STATUS"]
    assert transform, "the transform location has no sensor (GraphQL)"
    assert reports, "the reports location has no run-status sensor (GraphQL)"

    page.goto("/automation")
    for item in transform + reports:
        row = page.locator("[data-index]").filter(
            has=page.locator(f'a[href="/locations/{item["location"]}/sensors/{item["name"]}"]'))
        expect(row.get_by_text(item["name"], exact=True)).to_be_visible()
        expect_status_switch(row, item["status"])
