"""The Dagster UI in a real browser: Playwright (sync API) drives Debian's Chromium
against the running compose stack (`make e2e`), with the e2e suite's fixtures.

Each test leaves a screenshot of its page in .artifacts/ui/<test-name>.png (git-ignored);
when a test fails, the screenshot is taken at the failure and its path is printed.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from platformctl.screenshot import launch_browser, new_page

# The e2e suite's fixtures: `stack` fails (never skips) when the webserver does not
# answer; `settled` (autouse) waits after each test until no run is in flight.
from tests.e2e.conftest import settled, stack  # noqa: F401
from tests.e2e.platform import WEBSERVER

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "ui"
TIMEOUT_MS = 30_000
SHOT = pytest.StashKey[Path]()


def pytest_collection_modifyitems(items):
    for item in items:
        if "/ui/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def screenshot_path(item: pytest.Item) -> Path:
    return ARTIFACTS / (re.sub(r"[^\w.-]+", "_", item.name) + ".png")


def save_screenshot(item: pytest.Item, page) -> Path:
    path = screenshot_path(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    item.stash[SHOT] = path
    return path


@pytest.fixture(scope="session")
def browser(stack):  # noqa: F811 (the imported fixture)
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A new browser context per test (empty storage, 1600x1000, the UI's first-visit
    dialog dismissed); relative URLs go to the webserver."""
    screenshot_path(request.node).unlink(missing_ok=True)  # no stale picture from an earlier run
    page = new_page(browser, WEBSERVER)
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    # A failure already saved the page as it failed; a test may fail before opening one.
    if SHOT not in request.node.stash and page.url != "about:blank":
        save_screenshot(request.node, page)
    page.context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None:
        try:
            if page.url == "about:blank":
                message = "no screenshot: the test failed before opening a page"
            else:
                message = f"screenshot of the page at the failure: {save_screenshot(item, page)}"
        except Exception as exc:  # a crashed browser must not hide the test's own error
            message = f"no screenshot: {exc}"
        report.sections.append(("UI screenshot", message))
        print(f"\n{item.nodeid}: {message}")
    return report
