"""The browser session's signed-in user: the HttpOnly session cookie, else the tab's token, resolved on every run.

A sign-in (password, or OpenID Connect through st.login) puts the session token in st.session_state and hands
it to the browser's cookie through a one-time code (/auth/session, backend/gateway/http_session.py), so a reload
stays signed in. Each script run resolves the token through platform.gateway.resolve_session, so an expired
session, a sign-out elsewhere, a disabled account or a changed role takes effect on the next click. Nothing here
decides what a role may see: that is components/navigation.py (pages) and the RequestContext (every backend read).
"""
from __future__ import annotations

import json
from collections.abc import Mapping

import streamlit as st

from backend.context import RequestContext
from backend.gateway.http_session import COOKIE, SESSION_PATH, SIGN_OUT_PATH
from backend.gateway.identity import Identity, Unauthorized
from backend.gateway.sessions import SessionEnded, SignIn, token_hash
from backend.models import GroundworkError
from components.platform import get_platform

TOKEN_KEY = "gw_session_token"
NOTICE_KEY = "gw_signin_notice"  # why the previous session ended (expired, disabled), shown on the sign-in form
FAILURE_KEY = "gw_signin_failure"  # the gateway's message for the last failed attempt
HANDOFF_KEY = "gw_session_handoff"  # a one-time code: send the browser to /auth/session with it, once
DEAD_COOKIE_KEY = "gw_dead_cookie"  # sha256 of the cookie's token once it stopped working in this browser session
CLEAR_COOKIE_KEY = "gw_clear_cookie"  # the browser holds sign-in cookies that no longer work: clear them
OIDC_SKIP_KEY = "gw_oidc_skip"  # the st.user identity refused or signed out in this browser session
# Kept when a session ends: st.context.cookies stays what the page load sent until the next load, so this browser
# session must remember which cookie is dead and which provider identity not to sign in again.
_KEPT = frozenset((NOTICE_KEY, DEAD_COOKIE_KEY, CLEAR_COOKIE_KEY, OIDC_SKIP_KEY))
EXPIRED = "Your session expired or was ended elsewhere; sign in again."


def _cookie_token() -> str | None:
    """The session cookie's token, unless this browser session already found it dead. st.context.cookies holds
    the cookies of the page load (HttpOnly ones too: they come with the WebSocket handshake); outside a browser
    (AppTest, bare mode) there are none."""
    value = st.context.cookies.get(COOKIE)
    if not isinstance(value, str) or not value or token_hash(value) == st.session_state.get(DEAD_COOKIE_KEY):
        return None
    return value


def current_identity() -> Identity | None:
    """The signed-in identity of this browser session, or None (never signed in, signed out, expired).

    The tab's own token comes first (it is the newer one right after a sign-in, before the cookie is set), then the
    cookie; with neither, an st.login identity is mapped to a Groundwork session (OpenID Connect). The first run
    after a sign-in only hands the session to the cookie and stops: the page itself opens after that reload."""
    identity = _resolve()
    if identity is not None and st.session_state.get(HANDOFF_KEY):
        _hand_off_to_cookie()
    return identity


def _resolve() -> Identity | None:
    gateway = get_platform().gateway
    for token in (st.session_state.get(TOKEN_KEY), _cookie_token()):
        if not token:
            continue
        try:
            identity = gateway.resolve_session(token)
        except Unauthorized as exc:
            _session_ended(token, exc)
            continue
        st.session_state.pop(NOTICE_KEY, None)  # a notice of a tab token that ended, when the cookie still works
        return identity
    return _oidc_identity()


def _session_ended(token: str, exc: Unauthorized) -> None:
    """Forget the browser session's state and say why on the sign-in form; a cookie holding the dead token is
    ignored from now on and cleared in the browser."""
    cookie = st.context.cookies.get(COOKIE)
    _forget_session()
    if cookie == token:
        st.session_state[DEAD_COOKIE_KEY] = token_hash(token)
        st.session_state[CLEAR_COOKIE_KEY] = True
    st.session_state[NOTICE_KEY] = EXPIRED if isinstance(exc, SessionEnded) else str(exc)


def _start_session(signed: SignIn) -> None:
    """A new browser session for `signed`: this tab holds its token now, and the next run hands it to the cookie."""
    _forget_session()
    st.session_state[TOKEN_KEY] = signed.token
    st.session_state[HANDOFF_KEY] = get_platform().gateway.issue_session_code(signed.token)


def _run_script(script: str) -> None:
    # st.html runs a script only with unsafe_allow_javascript; every script here is a fixed text with values passed
    # through json.dumps, never user input. A meta refresh or a markdown link would not run at all.
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _hand_off_to_cookie() -> None:
    """Send the browser, once, to /auth/session with the one-time code, then st.stop(): the route sets the HttpOnly
    cookie (a page cannot) and brings the browser back to this page, which then opens signed in. Rendering nothing
    else meanwhile keeps the reload from cutting a half-drawn page short."""
    code = st.session_state.pop(HANDOFF_KEY)
    st.info("Signing you in…", icon=":material/login:")
    _run_script(f"window.location.replace({json.dumps(SESSION_PATH + '?code=' + code)}"
                " + '&next=' + encodeURIComponent(window.location.pathname + window.location.search));")
    st.stop()


def _clear_cookies() -> None:
    """POST /auth/sign-out in the background: clears the session cookie (and st.login's) in the browser."""
    if st.session_state.pop(CLEAR_COOKIE_KEY, False):
        _run_script(f"fetch({json.dumps(SIGN_OUT_PATH)}, {{method: 'POST', credentials: 'same-origin'}});")


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
        if key not in _KEPT:
            del st.session_state[key]


def _context_str(value) -> str | None:
    return value if isinstance(value, str) else None  # None outside a browser (AppTest, bare mode)


def sign_in_form() -> None:
    """User name and password, and "Sign in with <provider>" when OpenID Connect is configured; a failed or
    throttled sign-in shows the gateway's message."""
    _clear_cookies()
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
    _provider_buttons()
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
    _start_session(signed)  # the next run (same URL) opens the page asked for, now allowed


# --- OpenID Connect (st.login) ---------------------------------------------------------------
def oidc_providers() -> dict[str, str]:
    """{st.login provider: button label} of the providers in the secrets' [auth] section ({} when none): the
    provider configured in [auth] itself is "default", each [auth.<name>] section is <name>."""
    try:
        auth = st.secrets.get("auth")
    except FileNotFoundError:  # no secrets file at all (StreamlitSecretNotFoundError is one)
        return {}
    if not isinstance(auth, Mapping):
        return {}
    providers = {name: name.replace("-", " ").title() for name, section in auth.items()
                 if isinstance(section, Mapping) and "client_id" in section}
    if "client_id" in auth:
        providers = {"default": get_platform().settings.oidc_provider_label, **providers}
    return providers


def _provider_buttons() -> None:
    providers = oidc_providers()
    if not providers:
        return
    st.caption("or")
    for provider, label in providers.items():
        if st.button(f"Sign in with {label}", key=f"gw_oidc_{provider}", icon=":material/key:"):
            st.login(provider)  # to the provider and back to /oauth2callback; st.user then holds the claims
    if st.session_state.get(OIDC_SKIP_KEY) and _oidc_signed_in():
        st.button("Use another account", key="gw_oidc_logout", type="tertiary", on_click=st.logout)


def _oidc_signed_in() -> bool:
    # .get: st.user has no is_logged_in key at all where the host set no user info
    return st.user.get("is_logged_in") is True


def _oidc_subject() -> str:
    claims = st.user.to_dict()
    return f"{claims.get('provider', 'default')}:{claims.get('iss', '')}:{claims.get('sub', '')}"


def _oidc_identity() -> Identity | None:
    """After st.login: the provider's identity mapped to a Groundwork account and session, once per browser
    session (a refusal is shown on the sign-in form and not retried on every click)."""
    if not _oidc_signed_in() or st.session_state.get(OIDC_SKIP_KEY) == _oidc_subject():
        return None
    claims = st.user.to_dict()
    try:
        signed = get_platform().gateway.sign_in_oidc(claims, str(claims.get("provider") or "default"))
    except GroundworkError as exc:  # no account, no role, disabled: the gateway's own words
        st.session_state[OIDC_SKIP_KEY] = _oidc_subject()
        st.session_state[FAILURE_KEY] = str(exc)
        return None
    _start_session(signed)
    return signed.identity


def sign_out(everywhere: bool = False) -> None:
    """End the session in the gateway (every session of the user with `everywhere`), forget this browser
    session's state, and clear the browser's cookies on the next run."""
    gateway = get_platform().gateway
    cookie = _cookie_token()
    ended = 0
    for token in dict.fromkeys(t for t in (st.session_state.get(TOKEN_KEY), cookie) if t):
        ended += gateway.sign_out_everywhere(token) if everywhere else int(gateway.sign_out(token))
    oidc_subject = _oidc_subject() if _oidc_signed_in() else None
    _forget_session()
    if cookie:
        st.session_state[DEAD_COOKIE_KEY] = token_hash(cookie)
    if cookie or oidc_subject:
        st.session_state[CLEAR_COOKIE_KEY] = True
    if oidc_subject:  # st.user stays signed in until the next page load: do not map it to a session again
        st.session_state[OIDC_SKIP_KEY] = oidc_subject
    st.session_state[NOTICE_KEY] = (f"You signed out everywhere ({ended} session{'s' if ended != 1 else ''} ended)."
                                    if everywhere else "You signed out.")


def sidebar_account(identity: Identity) -> None:
    """Who is signed in, with their role, and the sign-out buttons, at the bottom of the sidebar."""
    with st.sidebar:
        st.divider()
        st.markdown(f":material/account_circle: **{identity.user}** · {identity.role} · tenant {identity.tenant}")
        st.button("Sign out", key="gw_sign_out", icon=":material/logout:", on_click=sign_out)
        # Not "Sign out ...": the label must not contain the first button's, which tests and people look for.
        st.button("End all my sessions", key="gw_sign_out_everywhere", type="tertiary", on_click=sign_out,
                  kwargs={"everywhere": True})
