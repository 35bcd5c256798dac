"""Screenshot the global asset graph of a running platform, every group expanded.

    platformctl screenshot --url http://127.0.0.1:3000 --out docs/images/asset-graph.png

`make screenshot` runs it to regenerate the README's picture. Playwright (PyPI)
drives Chromium from the system (Debian's `chromium`); no browser is downloaded.
The tests under tests/ui use the same browser settings and graph reader.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Playwright adds headless mode and a new empty profile (--user-data-dir) itself.
# The background-networking flags keep Chromium from calling out: there is no
# internet on CI machines, and nothing here needs it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
# The UI asks new browsers on localhost to "Join the Dagster community" in a modal
# dialog; mark it dismissed in this browser's storage only (no server state).
INIT_SCRIPT = "window.localStorage.setItem('communityNux', JSON.stringify('1'));"

ASSET_NODES = """{ assetNodes { assetKey { path } groupName dependencyKeys { path }
  repository { name location { name } } } }"""

# The graph is one <svg>: a <foreignObject class="group"> per asset group, a
# <foreignObject> per asset (its HTML shows the last part of the asset key) and a
# <path marker-end=...> per edge, from the right middle of the upstream node to
# the left middle of the downstream one (left-to-right layout, the default). All in
# the svg's own coordinates, which zooming and panning do not change.
GRAPH_SVG = "svg:has(> foreignObject)"
READ_GRAPH_JS = """svg => {
  const rect = el => ({x: +el.getAttribute('x'), y: +el.getAttribute('y'),
                       w: +el.getAttribute('width'), h: +el.getAttribute('height')});
  const leaves = el => [...el.querySelectorAll('*')]
      .filter(e => e.children.length === 0 && e.textContent.trim());
  const shown = (fo, el) => {  // the node's name is on screen and nothing covers it
    const r = el.getBoundingClientRect();
    if (!(r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight)) return false;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit !== null && fo.contains(hit);
  };
  const fos = [...svg.querySelectorAll(':scope > foreignObject')];
  return {
    groups: fos.filter(f => f.classList.contains('group'))
               .map(f => ({...rect(f), texts: leaves(f).map(e => e.textContent.trim())})),
    nodes: fos.map((f, index) => ({f, index})).filter(({f}) => !f.classList.contains('group'))
              .map(({f, index}) => ({...rect(f), index, texts: leaves(f).map(e => e.textContent.trim()),
                                     shown: leaves(f).length > 0 && shown(f, leaves(f)[0])}))
              .filter(n => n.texts.length),
    edges: [...svg.querySelectorAll(':scope > path[marker-end]')].map(p => p.getAttribute('d')),
  };
}"""
ANCHOR_TOLERANCE = 12  # px in svg coordinates; the arrow head leaves 5 px before the node


def key_str(path: list[str]) -> str:
    return "/".join(path)


def asset_nodes(url: str) -> list[dict]:
    """Every asset in the workspace, from the webserver's GraphQL API."""
    request = urllib.request.Request(
        f"{url}/graphql", data=json.dumps({"query": ASSET_NODES}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        body = json.load(resp)
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]["assetNodes"]


def lineage_url(url: str, assets: list[dict]) -> str:
    """The global asset graph ("Lineage") with every group expanded. Dagster 1.13's
    global graph groups assets by group name across locations; the `expanded` query
    parameter lists the open groups as `global@global:<group>`."""
    groups = sorted({a["groupName"] for a in assets})
    return f"{url}/asset-groups?expanded=" + quote(",".join(f"global@global:{g}" for g in groups))


def _inside(px: float, py: float, r: dict) -> bool:
    return r["x"] <= px <= r["x"] + r["w"] and r["y"] <= py <= r["y"] + r["h"]


def _label_matches(text: str, path: list[str]) -> bool:
    """A node shows the last part of its key; zoomed out, long names are cut in
    the middle ("orde…_status_chart")."""
    for name in (path[-1], key_str(path)):
        if text == name:
            return True
        head, ellipsis, tail = text.partition("…")
        if ellipsis and len(head) + len(tail) < len(name) and name.startswith(head) and name.endswith(tail):
            return True
    return False


def _near(ax: float, ay: float, x: float, y: float) -> bool:
    return abs(ax - x) <= ANCHOR_TOLERANCE and abs(ay - y) <= ANCHOR_TOLERANCE


def read_graph(page, assets: list[dict]) -> dict:
    """What the page draws: {"nodes": {asset key: svg element index}, "edges": {(from, to)},
    "unplaced": [asset keys with no node], "loose_edges": [paths not joining two nodes],
    "off_screen": [asset keys whose node is drawn but not inside the visible part]}."""
    raw = page.locator(GRAPH_SVG).first.evaluate(READ_GRAPH_JS)
    nodes: dict[str, dict] = {}
    unplaced = []
    for asset in assets:
        path = asset["assetKey"]["path"]
        groups = [g for g in raw["groups"] if asset["groupName"] in g["texts"]]
        found = [
            n for n in raw["nodes"]
            if any(_label_matches(text, path) for text in n["texts"])
            and any(_inside(n["x"] + n["w"] / 2, n["y"] + n["h"] / 2, g) for g in groups)
        ]
        if len(found) == 1:
            nodes[key_str(path)] = found[0]
        else:
            unplaced.append(key_str(path))
    edges, loose = set(), []
    for d in raw["edges"]:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
        (x1, y1), (x2, y2) = numbers[:2], numbers[-2:]
        source = [k for k, n in nodes.items() if _near(n["x"] + n["w"], n["y"] + n["h"] / 2, x1, y1)]
        target = [k for k, n in nodes.items() if _near(n["x"], n["y"] + n["h"] / 2, x2, y2)]
        if len(source) == 1 and len(target) == 1:
            edges.add((source[0], target[0]))
        else:
            loose.append(d)
    return {"nodes": {k: n["index"] for k, n in nodes.items()}, "edges": edges,
            "unplaced": unplaced, "loose_edges": loose,
            "off_screen": sorted(k for k, n in nodes.items() if not n["shown"])}


def dependency_edges(assets: list[dict]) -> set[tuple[str, str]]:
    return {(key_str(dep["path"]), key_str(a["assetKey"]["path"])) for a in assets for dep in a["dependencyKeys"]}


def wait_for_graph(page, assets: list[dict], timeout: float = 60, max_zoom_outs: int = 6) -> dict:
    """Poll the page until it shows a node for every asset, all on screen, and an
    edge for every dependency, and its viewport has stopped moving; fail after
    `timeout` seconds.

    The graph draws only the nodes inside its viewport, and opens at a zoom that
    may not show them all: while the drawing is still and incomplete, zoom out
    (the graph's own zoom-out button), at most `max_zoom_outs` times."""
    expected = dependency_edges(assets)
    deadline = time.monotonic() + timeout
    graph, last_box, zoom_outs = None, None, 0
    while time.monotonic() < deadline:
        if page.locator(GRAPH_SVG).count():
            graph = read_graph(page, assets)
            box = page.locator(GRAPH_SVG).first.bounding_box()
            complete = not graph["unplaced"] and not graph["off_screen"] and expected <= graph["edges"]
            if box == last_box and complete:
                return graph
            if box == last_box and graph["nodes"] and zoom_outs < max_zoom_outs:
                page.get_by_role("button", name="zoom_out", exact=True).click()
                zoom_outs += 1
                box = None
            last_box = box
        page.wait_for_timeout(250)
    raise AssertionError(
        f"the asset graph did not render within {timeout:.0f}s ({zoom_outs} zoom-outs): "
        + (f"assets without a node {graph['unplaced']}, off screen {graph['off_screen']}, dependencies "
           f"without an edge {sorted(expected - graph['edges'])}" if graph else "no graph svg on the page")
    )


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_page(browser, base_url: str):
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    context.add_init_script(INIT_SCRIPT)
    return context.new_page()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--out", type=Path, default=Path("docs/images/asset-graph.png"))
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")

    from playwright.sync_api import sync_playwright

    assets = asset_nodes(url)
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = new_page(browser, url)
        page.goto(lineage_url(url, assets))
        # The asset tree left of the graph takes a fifth of the width: fold it away.
        page.get_by_role("button", name="panel_show_right", exact=True).click()
        graph = wait_for_graph(page, assets, timeout=args.timeout)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"{args.out}: {len(graph['nodes'])} assets, {len(graph['edges'])} edges")
    return 0
