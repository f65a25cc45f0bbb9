"""Sign in: the only page of a browser session nobody signed in on."""
import streamlit as st

from components.auth import current_identity, sign_in_form

identity = current_identity()
if identity is None:
    sign_in_form()
else:
    st.title("Signed in")
    st.success(f"You are signed in as {identity.user} ({identity.role}, tenant {identity.tenant}).")
