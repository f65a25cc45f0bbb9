"""Browser: sign in as each role and see only its pages; a page of another role says so; wrong password; sign out."""
from __future__ import annotations

import pytest

from components.navigation import PAGES, allowed_pages
from tests.e2e.conftest import assert_no_exception, wait_for_app
from tests.e2e.signin import USERS, accounts, nav_titles, sign_in, sign_out  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts


def test_nobody_signed_in_sees_only_the_sign_in_form(page, app_url):
    page.goto(f"{app_url}/chat")
    wait_for_app(page)
    page.get_by_role("heading", name="Sign in to Groundwork").wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert page.get_by_test_id("stChatInputTextArea").count() == 0
    assert_no_exception(page)


@pytest.mark.parametrize("role", ["admin", "operator", "analyst", "stakeholder"])
def test_each_role_sees_only_its_pages_then_signs_out(page, app_url, role):
    page.goto(app_url)
    wait_for_app(page)
    sign_in(page, role)
    expected = {PAGES[name].title for name in allowed_pages(role)}
    assert nav_titles(page) == expected
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    assert USERS[role] in sidebar and role in sidebar
    sign_out(page)
    page.get_by_text("You signed out.").wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert_no_exception(page)


def test_a_page_of_another_role_says_not_allowed(page, app_url):
    page.goto(f"{app_url}/admin")
    wait_for_app(page)
    sign_in(page, "analyst")
    page.get_by_text("not allowed for your role (analyst)").wait_for()
    assert page.get_by_role("heading", name="Admin").count() == 0
    assert_no_exception(page)


def test_a_wrong_password_shows_the_message(page, app_url):
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_label("User name").fill(USERS["stakeholder"])
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("wrong user name or password").wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert_no_exception(page)
