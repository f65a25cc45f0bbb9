"""The browser session's signed-in user: the session token in st.session_state, resolved on every run.

The token is resolved through platform.gateway.resolve_session on each script run, so an expired session, a
sign-out elsewhere, a disabled account or a changed role takes effect on the next click. Nothing here decides
what a role may see: that is components/navigation.py (pages) and the RequestContext (every backend read).
"""
from __future__ import annotations

import streamlit as st

from backend.context import RequestContext
from backend.gateway.identity import Identity, Unauthorized
from backend.models import GroundworkError
from components.platform import get_platform

TOKEN_KEY = "gw_session_token"
NOTICE_KEY = "gw_signin_notice"  # why the previous session ended (expired, disabled), shown on the sign-in form
FAILURE_KEY = "gw_signin_failure"  # the gateway's message for the last failed attempt


def current_identity() -> Identity | None:
    """The signed-in identity of this browser session, or None (never signed in, signed out, expired)."""
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        return None
    try:
        return get_platform().gateway.resolve_session(token)
    except Unauthorized as exc:
        _forget_session()
        st.session_state[NOTICE_KEY] = str(exc)
        return None


def require_identity() -> Identity:
    """The signed-in identity; with nobody signed in, the sign-in form and st.stop()."""
    identity = current_identity()
    if identity is None:
        sign_in_form()
        st.stop()
    return identity


def request_context(identity: Identity | None = None) -> RequestContext:
    """The RequestContext every backend read of this page passes (grants read now, so changes apply at once)."""
    return get_platform().gateway.context_for(identity or require_identity())


def scope_key(ctx: RequestContext) -> tuple:
    """A hashable value naming what `ctx` may read: part of every st.cache_data key, so one caller's cached result
    is never served to another with a different scope."""
    def names(values: frozenset[str] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(sorted(values))

    return names(ctx.tenants), names(ctx.collections)


def _forget_session() -> None:
    """Drop everything this browser session kept (chat history, selections): the next user starts clean."""
    for key in list(st.session_state.keys()):
        if key != NOTICE_KEY:
            del st.session_state[key]


def _context_str(value) -> str | None:
    return value if isinstance(value, str) else None  # None outside a browser (AppTest, bare mode)


def sign_in_form() -> None:
    """User name and password; a failed or throttled sign-in shows the gateway's message."""
    st.title("Sign in to Groundwork")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/logout:")
    with st.form("gw_sign_in"):
        st.text_input("User name", key="gw_sign_in_user", autocomplete="username")
        st.text_input("Password", type="password", key="gw_sign_in_password", autocomplete="current-password")
        # A callback, so the sign-in is done before the next run starts: that run already has the whole navigation.
        st.form_submit_button("Sign in", type="primary", icon=":material/login:", on_click=_submit_sign_in)
    failure = st.session_state.pop(FAILURE_KEY, None)
    if failure:
        st.error(failure, icon=":material/lock:")
    st.caption("The first start printed the admin's one-time password in the server's terminal; "
               "an admin creates the other accounts on the Admin page.")


def _submit_sign_in() -> None:
    name = st.session_state.get("gw_sign_in_user", "")
    password = st.session_state.get("gw_sign_in_password", "")
    if not name.strip() or not password:
        st.session_state[FAILURE_KEY] = "Enter your user name and password."
        return
    try:
        signed = get_platform().gateway.sign_in(name, password, _context_str(st.context.ip_address))
    except GroundworkError as exc:  # wrong password, disabled account, throttled: the gateway's own words
        st.session_state[FAILURE_KEY] = str(exc)
        return
    _forget_session()
    st.session_state[TOKEN_KEY] = signed.token  # the next run (same URL) opens the page asked for, now allowed


def sign_out() -> None:
    """End the session in the gateway and forget this browser session's state."""
    token = st.session_state.get(TOKEN_KEY)
    if token:
        get_platform().gateway.sign_out(token)
    _forget_session()
    st.session_state[NOTICE_KEY] = "You signed out."


def sidebar_account(identity: Identity) -> None:
    """Who is signed in, with their role, and the sign-out button, at the bottom of the sidebar."""
    with st.sidebar:
        st.divider()
        st.markdown(f":material/account_circle: **{identity.user}** · {identity.role} · tenant {identity.tenant}")
        st.button("Sign out", key="gw_sign_out", icon=":material/logout:", on_click=sign_out)
