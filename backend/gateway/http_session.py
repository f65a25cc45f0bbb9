"""The browser's session cookie: /auth/session swaps a one-time sign-in code for it, /auth/sign-out clears it."""
from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Iterable
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from backend.gateway.gate import PlatformProvider
from backend.gateway.identity import Unauthorized
from backend.models import InputError

COOKIE = "gw_session"
# The cookie outlives its session by this much, so a browser coming back after expiry still sends it and the
# sign-in page can say "your session expired" instead of greeting a stranger. The server's row decides; a dead
# token in a cookie opens nothing.
COOKIE_GRACE = timedelta(days=1)
SESSION_PATH = "/auth/session"
SIGN_OUT_PATH = "/auth/sign-out"
_NEXT_LIMIT = 2000
# Anything a browser strips or rewrites before it resolves a URL (tabs, newlines, spaces, backslashes become
# slashes): "/\t/evil.example" or "/\\evil.example" would leave the site.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")
# No referrer leaves a page whose URL held a code; nothing here is cached by a browser or a proxy.
_NO_TRACE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def safe_next(raw) -> str:
    """Where to send the browser after the exchange: a path on this site ("/", "/chat?x=1"), else InputError
    naming the field `next`. Never a URL with a scheme or a host: that would make the route an open redirect."""
    if raw is None or raw == "":
        return "/"
    if not isinstance(raw, str) or len(raw) > _NEXT_LIMIT:
        raise InputError(f"next: give a path on this site of at most {_NEXT_LIMIT} characters", field="next")
    parts = urlsplit(raw)
    if (not raw.startswith("/") or raw.startswith("//") or _UNSAFE_IN_PATH.search(raw)
            or parts.scheme or parts.netloc):
        raise InputError(f"next: {raw[:80]!r} is not a path on this site (like /chat)", field="next")
    return raw


def _same_origin(request: Request, allow_typed: bool) -> bool:
    """Did this request come from a page of this site? Sec-Fetch-Site says so in every current browser
    ("none": typed or bookmarked, allowed for navigations only); without it, the Origin must name this host.
    A request with neither comes from no browser page (a script of its own): allowed for a navigation only."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin" or (allow_typed and site == "none")
    origin = request.headers.get("origin")
    if origin:
        return urlsplit(origin).netloc == request.headers.get("host", "")
    return allow_typed


def _page(status: int, message: str) -> HTMLResponse:
    """A person's browser asked: a short page with the reason and the way back, never JSON or a traceback."""
    body = ("<!doctype html><meta charset='utf-8'><title>Groundwork sign-in</title>"
            f"<p>{html.escape(message)}</p><p><a href='/'>Back to the sign-in page</a></p>")
    return HTMLResponse(body, status_code=status, headers=_NO_TRACE)


class SessionRoutes:
    """The two routes. `clear_cookies` are other sign-in cookies (Streamlit's st.login identity) that the Groundwork
    session replaces: cleared on the exchange and on sign-out, so they cannot sign the browser in again."""

    def __init__(self, provider: PlatformProvider, clear_cookies: Iterable[str] = ()):
        self._provider = provider
        self._clear = tuple(clear_cookies)

    def _clear_others(self, request: Request, response: Response) -> None:
        for name in request.cookies:
            base, _, chunk = name.rpartition("_")
            if name in self._clear or (base in self._clear and chunk.isdigit()):  # st.login splits big cookies
                response.delete_cookie(name, path="/")

    async def session(self, request: Request) -> Response:
        """GET /auth/session?code=...&next=/: set the session cookie, 303 to `next`.

        A GET, because the page moves the browser here (a script or a link). Login CSRF (a stranger's page making
        this browser redeem the stranger's code) is refused by the same-origin check; the code is single use,
        lives about a minute and carries no secret worth logging (the token is in the cookie, never the URL)."""
        if not _same_origin(request, allow_typed=True):
            return _page(403, "This sign-in link works only from Groundwork's own sign-in page; sign in again.")
        platform = self._provider()
        if platform is None:
            return _page(503, "The server is starting or stopping; try again in a moment.")
        try:
            target = safe_next(request.query_params.get("next"))  # checked first: a bad one does not use the code
            signed = await run_in_threadpool(platform.gateway.redeem_session_code, request.query_params.get("code"))
        except InputError as exc:
            return _page(400, str(exc))
        except Unauthorized as exc:
            return _page(401, str(exc))
        response = RedirectResponse(target, status_code=303, headers=_NO_TRACE)
        # The session's own clock (naive UTC; a test's moved clock), the one its expiry was computed with.
        seconds = int((signed.expires_at - platform.gateway.sessions.clock() + COOKIE_GRACE).total_seconds())
        response.set_cookie(COOKIE, signed.token, max_age=seconds, path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        self._clear_others(request, response)
        return response

    async def sign_out(self, request: Request) -> Response:
        """POST /auth/sign-out: end the cookie's session and clear the cookie; 204, or 303 to `next` when given.

        A POST from this site only. A GET would be CSRF-able: Lax cookies ride along on a top-level GET from any
        site, so any page could link an <img> or a redirect here and sign people out. Browsers do not send a Lax
        cookie on another site's POST, and the same-origin check refuses such a POST before anything happens."""
        if not _same_origin(request, allow_typed=False):
            return _page(403, "Sign-out works only from Groundwork's own pages.")
        try:
            target = safe_next(request.query_params.get("next")) if "next" in request.query_params else None
        except InputError as exc:
            return _page(400, str(exc))
        platform = self._provider()
        token = request.cookies.get(COOKIE)
        if token and platform is not None:
            await run_in_threadpool(platform.gateway.sign_out, token)
        response: Response = (RedirectResponse(target, status_code=303, headers=_NO_TRACE) if target is not None
                              else Response(status_code=204, headers=_NO_TRACE))
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")
        self._clear_others(request, response)
        return response

    def routes(self) -> list[BaseRoute]:
        return [Route(SESSION_PATH, self.session, methods=["GET"]),
                Route(SIGN_OUT_PATH, self.sign_out, methods=["POST"])]


def session_routes(provider: PlatformProvider, clear_cookies: Iterable[str] = ()) -> list[BaseRoute]:
    """The cookie routes, for st.App(routes=...) beside the API's."""
    return SessionRoutes(provider, clear_cookies).routes()
