"""Signing AppTest runs in: a user made through platform.gateway, its session token put in app.session_state.

Every page calls a guard (components.navigation.require_page) that shows only the sign-in form to a browser
nobody signed in on, so page tests sign in first:

    app = signed_in(AppTest.from_file(...))           # an admin of the default tenant
    app = signed_in(AppTest.from_file(...), "analyst", user="ann")
"""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from backend.gateway.identity import Identity

PASSWORD = "correct horse battery staple"  # test accounts only
TOKEN_KEY = "gw_session_token"  # components.auth.TOKEN_KEY (not imported: that would import streamlit pages' code)


def ensure_user(platform, user: str, role: str = "admin", tenant: str | None = None,
                password: str = PASSWORD) -> dict:
    """The user (created with its tenant when missing, else given this role), through platform.gateway."""
    gateway = platform.gateway
    tenant = tenant or platform.settings.default_tenant
    if tenant not in {t["name"] for t in gateway.tenants()}:
        gateway.create_tenant(tenant, "test tenant")
    if user in {u["name"] for u in gateway.users()}:
        row = gateway.user(user)
        return row if row["role"] == role else gateway.set_role(user, role)
    return gateway.create_user(user, tenant, role, password)


def sign_in_token(platform=None, role: str = "admin", user: str | None = None, tenant: str | None = None) -> str:
    """A session token for `user` (default: 'test-<role>'), made on the pages' own platform unless one is given."""
    if platform is None:
        from components.platform import get_platform

        platform = get_platform()
    user = user or f"test-{role}"
    ensure_user(platform, user, role, tenant)
    return platform.gateway.sign_in(user, PASSWORD).token


def signed_in(app: AppTest, role: str = "admin", user: str | None = None, tenant: str | None = None,
              platform=None) -> AppTest:
    """The AppTest with a session of `user` in its session state (call before its first run)."""
    app.session_state[TOKEN_KEY] = sign_in_token(platform, role, user, tenant)
    return app


def identity_of(app: AppTest, platform=None) -> Identity:
    """Who the AppTest's session is signed in as (Unauthorized when it is not)."""
    if platform is None:
        from components.platform import get_platform

        platform = get_platform()
    return platform.gateway.resolve_session(app.session_state[TOKEN_KEY])
