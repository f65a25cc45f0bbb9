"""Every registered page opens in a real browser without an error on screen, reached as a user goes (cold deep links too)."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import _chromium_or_skip, wait_for_app
from tests.e2e.signin import accounts, seed_accounts, sign_in  # noqa: F401 - accounts: the fixture seeding the users
from tests.live_server import serve

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts


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
    seed_accounts(tmp_path)
    with serve(tmp_path) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.goto(f"{url}/cost_explorer")
        wait_for_app(tab)
        sign_in(tab, "admin")  # the deep link shows the sign-in form, then the page itself
        tab.get_by_role("heading", name="Cost explorer").wait_for()
        _nav_links(tab)  # unfolds "View N more"
        nav = tab.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Stakeholder" in nav and "Operator" in nav, nav
        assert "app" not in [line.strip() for line in nav.splitlines()]
        context.close()


def test_every_page_renders_without_an_exception(page, app_url):
    page.goto(app_url)
    wait_for_app(page)
    sign_in(page, "admin")  # the admin's navigation lists every page
    links = _nav_links(page)
    assert len(links) >= 10, links
    failures = []
    for href in links:
        # As a user goes from page to page: one signed-in session (cold deep links are the test above).
        if not page.locator(f"[data-testid='stSidebarNav'] a[href='{href}']").count():
            _nav_links(page)  # folded again behind "View N more"
        page.locator(f"[data-testid='stSidebarNav'] a[href='{href}']").click()
        page.wait_for_url(href)
        wait_for_app(page)
        page.wait_for_timeout(500)
        if page.locator("[data-testid='stException']").count():
            failures.append(f"{href}: {page.locator('[data-testid=stException]').first.inner_text()[:300]}")
    assert not failures, "\n".join(failures)
