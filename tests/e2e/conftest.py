"""Browser-test harness: the real server (UI and API, as `make run` starts it) on the demo corpus, driven by headless Debian Chromium."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import serve

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    message = "Chromium not found: run `bash scripts/install-chromium.sh` (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs it through `make test`; missing there is a real failure
    pytest.skip(message)


@pytest.fixture(scope="session")
def e2e_data_dir(tmp_path_factory) -> Path:
    """A data directory with the demo corpus ingested through the real CLI."""
    path = tmp_path_factory.mktemp("e2e-data")
    env = {**os.environ, "GROUNDWORK_DATA_DIR": str(path), "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-m", "backend", "ingest", str(ROOT / "data" / "demo"), "--collection", "demo"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=600,
    )
    return path


@pytest.fixture(scope="session")
def app_url(e2e_data_dir):
    """The app as `make run` starts it (uvicorn on components.asgi:app) on a free loopback port, for the whole session."""
    _chromium_or_skip()
    with serve(e2e_data_dir) as url:
        yield url


@pytest.fixture(scope="session")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page; on failure a screenshot lands in test-artifacts/<test name>.png."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def wait_for_app(tab, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' status widget)."""
    tab.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    tab.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


def open_page(tab, app_url: str, path: str, nav_label: str) -> None:
    """The app first (a deep link into a fresh server would skip app.py's navigation), then the page by its URL."""
    tab.goto(app_url)
    wait_for_app(tab)
    tab.goto(f"{app_url}/{path}")
    wait_for_app(tab)
    tab.get_by_test_id("stSidebarNav").get_by_text(nav_label).wait_for()


def settle(tab) -> None:
    """Let a rerun start, then wait for it to end (a widget change reruns the script a moment later)."""
    tab.wait_for_timeout(500)
    wait_for_app(tab, timeout_ms=180_000)


def open_document(tab, search: str) -> None:
    """On the Documents page: search titles and file names, and open the one document found (the grid is a
    canvas, so its row is clicked by position)."""
    tab.get_by_label("Search title or file name").fill(search)
    tab.get_by_label("Search title or file name").press("Enter")
    settle(tab)
    tab.get_by_text("1–1 of 1 documents").wait_for()
    table = tab.locator("[data-testid='stDataFrame']").first.bounding_box()
    tab.mouse.click(table["x"] + 18, table["y"] + 35 + 17)  # the row's selection box
    settle(tab)


def open_expander(expander, shown, attempts: int = 3) -> None:
    """Open the expander and wait until `shown` (a locator inside it) is visible. A click that lands while the script
    is still redrawing the page can be lost with the element it toggled (a CI failure of the walkthrough), so a
    summary that is still closed after a while is clicked again; an open one is never clicked shut."""
    is_open = "el => (el.matches('details') ? el : el.querySelector('details')).open"
    for attempt in range(attempts):
        if not expander.evaluate(is_open):
            expander.locator("summary").click()
        try:
            shown.wait_for(timeout=10_000)
            return
        except Exception:  # playwright's TimeoutError: look again at the redrawn element
            if attempt == attempts - 1:
                raise


def assert_no_exception(tab) -> None:
    """No Streamlit exception box on the page; its text in the failure message when there is one."""
    boxes = tab.locator("[data-testid='stException']")
    assert boxes.count() == 0, boxes.first.inner_text()[:300]
