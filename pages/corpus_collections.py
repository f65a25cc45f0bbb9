"""Collections: what each holds, and create, rename or delete (when empty) them; export a collection's chunks."""
import pandas as pd
import streamlit as st

from backend.corpus.export import export_chunks
from components.corpus_actions import ask, asked, confirm_delete_collection, perform
from components.corpus_common import export_buttons, show_flash
from components.navigation import page_context
from components.platform import get_platform

identity, ctx = page_context(__file__)
PII_MODE_LABELS = {"flag": "Flag only: record findings, store the text as is",
                   "redact": "Redact: record findings, store the text redacted"}

platform = get_platform()
st.title("Collections")
show_flash()

collections = platform.corpus.collections(ctx)
modes = platform.corpus.pii_modes(ctx)
if collections:
    st.dataframe(pd.DataFrame([
        {"collection": c["name"], "tenant": c["tenant"], "description": c["description"], "documents": c["documents"],
         "chunks": c["chunks"], "tokens": c["tokens"], "created": c["created_at"], "last ingest": c["last_ingest_at"],
         "index version": c["index_version"], "personal data at ingest": modes.get(c["name"], "flag")}
        for c in collections
    ]), hide_index=True, width="stretch")
else:
    st.info("No collections yet: create one below, or upload files into a new one.")

names = [c["name"] for c in collections]
create, rename, personal, delete, export = st.tabs(["Create", "Rename", "Personal data", "Delete", "Export"])

with create:
    with st.form("create_collection", clear_on_submit=True):
        name = st.text_input("Name", placeholder="letters, digits, '-', '_' or '.'")
        description = st.text_input("Description (optional)")
        if st.form_submit_button("Create collection", type="primary", icon=":material/add:"):
            perform(lambda: platform.corpus.create_collection(name.strip(), tenant=identity.tenant,
                                                             description=description.strip(), ctx=ctx),
                    f"Created collection {name.strip()}.")

with rename:
    if not names:
        st.caption("Nothing to rename yet.")
    else:
        with st.form("rename_collection"):
            old = st.selectbox("Collection", names)
            new = st.text_input("New name")
            if st.form_submit_button("Rename", icon=":material/edit:"):
                perform(lambda: platform.corpus.rename_collection(old, new.strip(), ctx),
                        f"Renamed {old} to {new.strip()}; its documents and index are unchanged.")

with personal:
    if not names:
        st.caption("No collection to set yet.")
    else:
        chosen = st.selectbox("Collection", names, key="pii_collection")  # outside the form: the choice below follows it
        with st.form("pii_at_ingest"):
            mode = st.radio("At ingest", list(PII_MODE_LABELS), format_func=PII_MODE_LABELS.get, horizontal=True,
                            key=f"pii_mode_{chosen}", index=list(PII_MODE_LABELS).index(modes.get(chosen, "flag")))
            st.caption("Either way ingest records each document's personal data (types, chunks, pages, hashed "
                       "values; the Documents page shows them). 'Redact' also stores the text with it replaced, a CSV's "
                       "cells redacted, and keeps no PDF or XLSX original (no page images, no query_table rows) and no "
                       "uploaded file. "
                       "A change applies to the next ingest: documents stored already keep their text until they are "
                       "re-ingested (Documents page, Re-ingest).")
            if st.form_submit_button("Save", icon=":material/save:"):
                perform(lambda: platform.corpus.set_pii_at_ingest(chosen, mode, ctx),
                        f"{chosen}: personal data is now {'redacted' if mode == 'redact' else 'only flagged'} at ingest "
                        "(documents stored already are unchanged until re-ingested).")

with delete:
    if not names:
        st.caption("Nothing to delete.")
    else:
        target = st.selectbox("Collection", names, key="delete_collection_name")
        holding = next(c["documents"] for c in collections if c["name"] == target)
        if holding:
            st.caption(f"**{target}** holds {holding:,} document(s): delete them or move them to another collection "
                       "on the Documents page first.")
        if st.button("Delete collection…", icon=":material/delete:", disabled=bool(holding), key="delete_collection"):
            ask("delete collection", target)
        if asked("delete collection", target):
            confirm_delete_collection(platform, target, ctx)

with export:
    if not names:
        st.caption("Nothing to export.")
    else:
        source = st.selectbox("Chunks of", names, key="export_collection")
        export_buttons("Chunks", lambda fmt: export_chunks(platform, source, fmt, ctx=ctx),
                       f"chunks-{source}", "collection_chunks")
        export_buttons("Chunks with embeddings", lambda fmt: export_chunks(
            platform, source, fmt, with_embeddings=True, ctx=ctx), f"chunks-embeddings-{source}", "collection_vectors",
            formats=("parquet",))
