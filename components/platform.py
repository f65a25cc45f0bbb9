"""The one Platform object every page and session shares (st.cache_resource)."""
import streamlit as st

from backend.gateway.server import served_platform
from backend.platform import Platform
from backend.settings import Settings


@st.cache_resource(show_spinner="Loading the index and models…")
def get_platform() -> Platform:
    # Under the server (uvicorn components.asgi:app) the pages share the API's Platform: one process owns
    # the DuckDB file. Elsewhere (AppTest, a bare `streamlit run app.py`) the pages build their own.
    # Shared by all sessions: Platform hands out a DuckDB cursor per call and locks its writers.
    return served_platform() or Platform(Settings())
