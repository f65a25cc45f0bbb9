"""Browser: a password sign-in survives a reload through its HttpOnly cookie; sign-out ends the session and clears
the cookie, and the old cookie opens nothing; "End all my sessions" signs out the user's other browsers too."""
from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest

from backend.gateway.http_session import COOKIE
from components.navigation import PAGES, allowed_pages
from tests.e2e.conftest import assert_no_exception, wait_for_app
from tests.e2e.signin import USERS, accounts, nav_titles, sign_in, sign_out  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts


def _session_cookie(tab) -> dict | None:
    return next((c for c in tab.context.cookies() if c["name"] == COOKIE), None)


def _wait_for_cookie(tab, present: bool, timeout_s: float = 30) -> dict | None:
    """The session cookie once it is there (or gone): it is set by a redirect and cleared by a background POST."""
    deadline = time.monotonic() + timeout_s
    while (_session_cookie(tab) is not None) != present:
        assert time.monotonic() < deadline, f"the session cookie is still {'missing' if present else 'there'}"
        tab.wait_for_timeout(200)
    return _session_cookie(tab)


def _reload(tab) -> None:
    tab.reload()
    wait_for_app(tab)


def test_a_reload_keeps_the_session_and_sign_out_ends_it_for_good(page, app_url):
    page.goto(f"{app_url}/corpus_search")
    wait_for_app(page)
    sign_in(page, "analyst")
    page.get_by_role("heading", name="Search explorer").wait_for()
    assert urlsplit(page.url).path == "/corpus_search" and "code=" not in page.url  # back on the page asked for
    cookie = _wait_for_cookie(page, present=True)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"] and cookie["path"] == "/"
    assert cookie["expires"] > time.time() + 11 * 3600  # lasts the session (12 hours by default), not the tab
    assert COOKIE not in page.evaluate("document.cookie")  # HttpOnly: no script of the page can read it
    expected = {PAGES[name].title for name in allowed_pages("analyst")}
    assert nav_titles(page) == expected

    _reload(page)
    page.get_by_role("heading", name="Search explorer").wait_for()
    assert USERS["analyst"] in page.get_by_test_id("stSidebar").inner_text()
    assert nav_titles(page) == expected and page.get_by_label("User name").count() == 0
    page.goto(f"{app_url}/chat")  # another page load, another URL: still signed in
    wait_for_app(page)
    page.get_by_role("heading", name="Chat with your documents").wait_for()
    assert_no_exception(page)

    sign_out(page)
    page.get_by_text("You signed out.").wait_for()
    _wait_for_cookie(page, present=False)
    _reload(page)
    page.get_by_label("User name").wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0 and page.get_by_text("You signed out.").count() == 0

    page.context.add_cookies([cookie])  # the old cookie, as someone who copied it would send it
    _reload(page)
    page.get_by_text("Your session expired").wait_for()
    page.get_by_label("User name").wait_for()  # the message renders a moment before the form below it
    assert page.get_by_test_id("stSidebarNav").count() == 0
    _wait_for_cookie(page, present=False)  # the page cleared the dead cookie
    _reload(page)
    page.get_by_label("User name").wait_for()
    assert page.get_by_text("Your session expired").count() == 0
    assert_no_exception(page)


def test_end_all_my_sessions_signs_out_the_other_browsers_too(browser, app_url):
    tabs = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        tab.goto(app_url)
        wait_for_app(tab)
        sign_in(tab, "operator")
        _wait_for_cookie(tab, present=True)
        tabs.append(tab)
    laptop, phone = tabs
    try:
        laptop.get_by_test_id("stSidebar").get_by_role("button", name="End all my sessions").click()
        notice = laptop.get_by_text(re.compile(r"You signed out everywhere \((\d+) sessions ended\)\."))
        notice.wait_for()
        # these two, and any other test's session of the same user the shared server still holds
        assert int(re.search(r"\((\d+) sessions", notice.inner_text()).group(1)) >= 2
        _wait_for_cookie(laptop, present=False)
        _reload(phone)
        phone.get_by_text("Your session expired").wait_for()
        assert phone.get_by_test_id("stSidebarNav").count() == 0
        assert_no_exception(phone)
    finally:
        for tab in tabs:
            tab.context.close()
