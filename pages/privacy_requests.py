"""Data-subject requests (admins): find everything held about one person, export it (JSON, PDF), erase it, re-scan.

The backend refuses anyone but an admin; every find, export and erasure is recorded in the audit log with who ran it
and what it touched, never the identifiers.
"""
import streamlit as st

from backend.models import GroundworkError
from backend.privacy.subject import subject_request
from backend.privacy.subject_requests import erase_subject_data, export_subject_data, find_subject_data
from components.navigation import page_context
from components.platform import get_platform
from components.privacy_request import erasure_outcome, findings_summary, report_downloads

identity, ctx = page_context(__file__)
FOUND = "dsr_found"  # (request id, findings) of the last Find
ERASED = "dsr_erased"  # the last erasure's outcome
CONFIRM_WORD = "ERASE"

platform = get_platform()
st.title("Data-subject requests")
st.caption("Answer a person's access or erasure request (policy NL-POL-022): find what the platform holds about them "
           "in every store, send them the report, erase it. Each request is recorded in the audit log as "
           f"**{identity.user}**, without the identifiers.")

with st.form("dsr_identifiers"):
    left, right = st.columns(2)
    emails = left.text_area("E-mail addresses", key="dsr_emails", height=80, help="One per line; case does not matter.")
    phones = right.text_area("Phone numbers", key="dsr_phones", height=80,
                             help="One per line, in any formatting: +44 20 7946 0958, 020 7946 0958 and 02079460958 "
                                  "are one number.")
    names = left.text_area("Full names", key="dsr_names", height=80,
                           help="One per line, first and last: found as 'First Last' and 'Last, First'.")
    customer_ids = right.text_area("Customer ids", key="dsr_customer_ids", height=80, help="One per line, as stored.")
    find_clicked = st.form_submit_button("Find", type="primary", icon=":material/person_search:")

if find_clicked:
    st.session_state.pop(ERASED, None)
    try:
        request = subject_request(emails, phones, names, customer_ids)
        with st.spinner("Searching every store…"):
            st.session_state[FOUND] = find_subject_data(platform, ctx, request)
    except GroundworkError as exc:
        st.session_state.pop(FOUND, None)
        st.error(str(exc), icon=":material/error:")

found = st.session_state.get(FOUND)
if found is not None:
    request_id, findings = found
    st.subheader("Found")
    st.caption(f"Request {request_id}, scanned {findings.scanned_at:%Y-%m-%d %H:%M} UTC. Identifiers are masked here; "
               "the reports show them.")
    findings_summary(findings)
    if findings.occurrences:
        report_downloads(lambda fmt: export_subject_data(platform, ctx, findings.request, fmt, findings, request_id))

    st.subheader("Erase")
    if not findings.erasable:
        st.caption("Nothing here can be erased: the stores above are kept as they are (see why).")
    else:
        st.markdown(f"Erasure redacts or deletes the **{len(findings.erasable)}** erasable occurrence(s) above, re-indexes "
                    "what changed, then scans again. It cannot be undone.")
        word = st.text_input(f"Type {CONFIRM_WORD} to confirm", key="dsr_confirm", placeholder=CONFIRM_WORD)
        if st.button("Erase this person's data", type="secondary", icon=":material/delete_forever:",
                     disabled=word.strip() != CONFIRM_WORD, key="dsr_erase"):
            try:
                with st.spinner("Erasing, re-indexing and scanning again…"):
                    st.session_state[ERASED] = erase_subject_data(platform, ctx, findings.request)
                st.session_state.pop(FOUND, None)
                st.rerun()
            except GroundworkError as exc:
                st.error(str(exc), icon=":material/error:")

erased = st.session_state.get(ERASED)
if erased is not None:
    st.subheader("Erased")
    erasure_outcome(erased)
