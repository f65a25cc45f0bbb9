"""The one server process: Streamlit's ASGI app (app.py) with the backend's HTTP API beside it: `uvicorn components.asgi:app`."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from streamlit import config as streamlit_config
from streamlit.path_security import is_unsafe_path_pattern
from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.server.starlette.starlette_server_config import TOKENS_COOKIE_NAME, USER_COOKIE_NAME

from backend.gateway.http import API_PREFIXES, api_routes
from backend.gateway.http_errors import UnsafeApiPaths
from backend.gateway.http_session import session_routes
from backend.gateway.mcp_server import McpDoor
from backend.gateway.server import lifespan, served_platform

ROOT = Path(__file__).resolve().parents[1]

# Streamlit decides once per process, from the mere existence of pages/, to run in its old "pages directory"
# mode, and leaves it only when app.py calls st.navigation. A first visitor who opens a deep link (/chat) would
# get the page without app.py: the wrong sidebar and layout for every later session too. Deciding it up front
# keeps the fixed pages/ layout.
PagesManager.uses_pages_directory = False

# Streamlit gives uvicorn's access logger its own handler (again whenever its config loads), whatever uvicorn was
# told. Streamlit's own server logs no access lines (a page load fetches ~100 static files, and would scroll the
# first start's one-time admin secret off the terminal); neither does this one. Errors still go to uvicorn.error.
logging.getLogger("uvicorn.access").disabled = True

# `streamlit run` reads STREAMLIT_SECRETS_FILES (space-separated) through its command line; uvicorn does not, so
# without this only .streamlit/secrets.toml could hold st.login's [auth] section. A deployment (or a test) points
# it at a secrets file kept outside the repository.
if os.environ.get("STREAMLIT_SECRETS_FILES", "").strip():
    streamlit_config.set_option("secrets.files", os.environ["STREAMLIT_SECRETS_FILES"].split())

# /auth/session and /auth/sign-out (the HttpOnly session cookie); a Groundwork session replaces st.login's own
# identity cookies, so those routes clear them. /mcp: the tools over MCP, whose SDK runs a task group in the lifespan.
mcp_door = McpDoor(served_platform)
app = st.App(ROOT / "app.py", lifespan=mcp_door.around(lifespan),
             routes=[*session_routes(served_platform, (USER_COOKIE_NAME, TOKENS_COOKIE_NAME)),
                     *api_routes(served_platform), mcp_door.route()],
             middleware=[Middleware(UnsafeApiPaths, unsafe=is_unsafe_path_pattern, prefixes=API_PREFIXES)])
