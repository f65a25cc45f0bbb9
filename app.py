"""Groundwork: navigation only. Each page lives in pages/; who sees which page is components/navigation.py."""
import streamlit as st

from components.auth import current_identity, sidebar_account
from components.navigation import app_pages

st.set_page_config(page_title="Groundwork", page_icon=":material/foundation:", layout="wide")

identity = current_identity()
navigation = st.navigation(app_pages(identity))
if identity is not None:
    sidebar_account(identity)
navigation.run()
