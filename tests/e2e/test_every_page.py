"""Every registered page opens in a real browser without an error on screen, deep links included."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import _chromium_or_skip, serve_app, wait_for_app

pytestmark = pytest.mark.e2e


def _nav_links(tab) -> list[str]:
    tab.wait_for_selector("[data-testid='stSidebarNav'] a")
    more = tab.locator("[data-testid='stSidebarNavViewButton']")
    if more.count() and "more" in more.inner_text().lower():
        more.click()  # a long sidebar folds its last pages behind "View N more"
    links = tab.locator("[data-testid='stSidebarNav'] a")
    return [links.nth(i).get_attribute("href") for i in range(links.count())]


def test_cold_deep_link_runs_the_app_navigation(browser, tmp_path):
    """The first visit to a fresh server is a page URL: it must still get app.py's sections and layout."""
    _chromium_or_skip()
    with serve_app(tmp_path) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.goto(f"{url}/cost_explorer")
        wait_for_app(tab)
        nav = tab.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Stakeholder" in nav and "Operator" in nav, nav
        assert "app" not in [line.strip() for line in nav.splitlines()]
        context.close()


def test_every_page_renders_without_an_exception(page, app_url):
    page.goto(app_url)
    wait_for_app(page)
    links = _nav_links(page)
    assert len(links) >= 10, links
    failures = []
    for href in links:
        page.goto(href)
        wait_for_app(page)
        page.wait_for_timeout(500)
        if page.locator("[data-testid='stException']").count():
            failures.append(f"{href}: {page.locator('[data-testid=stException]').first.inner_text()[:300]}")
    assert not failures, "\n".join(failures)
