"""Groundwork backend: everything the pages and the CLI call; no Streamlit here."""
