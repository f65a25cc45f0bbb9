"""The one Platform object every page and session shares (st.cache_resource)."""
import streamlit as st

from backend.platform import Platform
from backend.settings import Settings


@st.cache_resource(show_spinner="Loading the index and models…")
def get_platform() -> Platform:
    # Shared by all sessions: Platform hands out a DuckDB cursor per call and locks its writers.
    return Platform(Settings())
