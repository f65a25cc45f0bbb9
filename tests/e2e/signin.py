"""Signing the browser tests in: one account per role seeded into the e2e data dir, and the sign-in form driven.

A sign-in lasts across page loads (tab.goto) of one browser context through its session cookie: open_page() goes
to the page's URL, signs in on the form that page shows unless the context is signed in already, and the same URL
then runs the page.

The accounts must exist before the server opens the data dir (DuckDB: one process). Until the e2e conftest seeds
them itself (e2e_data_dir calling seed_accounts), a test module imports the session fixture `accounts` and lists
it through usefixtures (set up before the test's own fixtures, so before the server starts):

    from tests.e2e.signin import accounts, open_page  # noqa: F401

    pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]
"""
from __future__ import annotations

from pathlib import Path

import pytest

PASSWORD = "e2e password for every role"  # test accounts of a throwaway data dir only
USERS = {"admin": "e2e-admin", "operator": "e2e-operator", "analyst": "e2e-analyst", "stakeholder": "e2e-stakeholder"}
GROUP = "e2e-analysts"  # granted the demo collection, with the analyst in it


def seed_accounts(data_dir: Path, collection: str = "demo") -> dict[str, str]:
    """USERS (created when missing) in the default tenant of the data dir: role -> user name. Call before the
    server starts on that data dir."""
    from backend.platform import Platform
    from backend.settings import Settings

    with Platform(Settings(data_dir=data_dir)) as platform:
        gateway, tenant = platform.gateway, platform.settings.default_tenant
        if tenant not in {t["name"] for t in gateway.tenants()}:
            gateway.create_tenant(tenant, "e2e")
        existing = {u["name"] for u in gateway.users()}
        for role, user in USERS.items():
            if user not in existing:
                gateway.create_user(user, tenant, role, PASSWORD)
        if GROUP not in {g["name"] for g in gateway.groups()}:
            gateway.create_group(GROUP, tenant)
            gateway.grant(GROUP, collection)
            gateway.add_member(GROUP, USERS["analyst"])
    return dict(USERS)


_seeded: set[Path] = set()


@pytest.fixture(scope="session")
def accounts(e2e_data_dir) -> dict[str, str]:
    # Imported into several test modules, pytest sets this up once per module: seed once per data dir, since the
    # server holds the DuckDB file from the first browser test on.
    if e2e_data_dir not in _seeded:
        seed_accounts(e2e_data_dir)
        _seeded.add(e2e_data_dir)
    return dict(USERS)


def sign_in(tab, role: str = "admin", timeout_ms: int = 60_000) -> None:
    """Fill the sign-in form on the current page as the role's user and wait for the signed-in navigation.

    The session cookie keeps a browser context signed in across page loads: already signed in as the role's
    user, there is nothing to do; signed in as another, that one signs out first."""
    from tests.e2e.conftest import wait_for_app

    form = tab.get_by_label("User name")
    signed_in = tab.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
    form.or_(signed_in).first.wait_for(timeout=timeout_ms)
    if signed_in.count():
        if USERS[role] in tab.get_by_test_id("stSidebar").inner_text():
            wait_for_app(tab, timeout_ms)
            return
        sign_out(tab)
    form.fill(USERS[role])
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_test_id("stSidebar").get_by_text(USERS[role]).wait_for(timeout=timeout_ms)
    wait_for_app(tab, timeout_ms)


def open_page(tab, app_url: str, path: str, nav_label: str, role: str = "admin") -> None:
    """The page by its URL, signed in as `role` (the sign-in form it shows first, then the page itself)."""
    from tests.e2e.conftest import wait_for_app

    tab.goto(f"{app_url}/{path}")
    wait_for_app(tab)
    sign_in(tab, role)
    tab.get_by_test_id("stSidebarNav").get_by_text(nav_label, exact=True).wait_for()
    wait_for_app(tab)


def sign_out(tab) -> None:
    from tests.e2e.conftest import wait_for_app

    tab.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    tab.get_by_label("User name").wait_for()
    wait_for_app(tab)


def nav_titles(tab) -> set[str]:
    """The titles of the pages the sidebar offers."""
    nav = tab.get_by_test_id("stSidebarNav")
    nav.wait_for()
    more = tab.locator("[data-testid='stSidebarNavViewButton']")
    if more.count() and "more" in more.inner_text().lower():
        more.click()  # a long sidebar folds its last pages behind "View N more"
    links = nav.locator("a")
    return {links.nth(i).inner_text().strip().splitlines()[-1].strip() for i in range(links.count())}  # icon, title
