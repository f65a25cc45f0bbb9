"""Personal data in the corpus browser: a document's recorded findings, and which documents hold a typed value."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.context import RequestContext
from backend.corpus.personal_data import MAX_VALUE_CHARS, document_findings, documents_with_value
from backend.models import GroundworkError

MATCHES = "pii_value_search_matches"  # (collection it was searched in, matches)
MATCHES_TABLE = "pii_value_matches"
MODE_LABELS = {"flag": "flag only (text stored as is)", "redact": "redact at ingest (text stored redacted)"}


def render_findings(platform, document_id: int, ctx: RequestContext) -> None:
    """What ingest recorded of the document's personal data: counts per type, where (chunk, page), the mode. Read
    on every run, not cached: two small DuckDB reads, and the collection's setting may change at any time."""
    recorded = document_findings(platform, document_id, ctx)
    stored = "stored redacted" if recorded.redacted else "stored as ingested"
    st.caption(f"Recorded at ingest · this version's text is {stored} · the collection's setting now: "
               f"**{MODE_LABELS[recorded.mode]}** (Collections page; a change applies to the next ingest)")
    if not recorded.scanned:
        st.info("No findings recorded: this version was ingested before ingest recorded personal data. "
                "`python -m backend pii-scan` records them.", icon=":material/info:")
        return
    if not recorded.total:
        st.success("Ingest found no personal data in this version.", icon=":material/verified_user:")
        return
    st.markdown(f"**{recorded.total:,} finding{'' if recorded.total == 1 else 's'}** recorded at ingest, by type "
                "and where (chunk, page); masked in the text below.")
    st.dataframe(pd.DataFrame([{"entity type": entity, "findings": count,
                                "chunks": _listed(p["chunk"] for p in recorded.places if p["entity type"] == entity),
                                "pages": _listed(p["page"] for p in recorded.places if p["entity type"] == entity)}
                               for entity, count in recorded.counts.items()]), hide_index=True, width="stretch")


def _listed(numbers) -> str:
    """Chunk or page numbers, each once and in order ("1, 3, 4"); a dash when there are none (no pages)."""
    return ", ".join(str(n) for n in sorted({n for n in numbers if n is not None})) or "—"


def render_value_search(platform, ctx: RequestContext, collection: str | None) -> None:
    """A box for operators and admins: which documents mention this e-mail address, phone number, name, IBAN?"""
    with st.expander("Find personal data", icon=":material/person_search:"):
        with st.form("pii_value_search", border=False):
            value = st.text_input("Which documents mention…", key="pii_value", max_chars=MAX_VALUE_CHARS,
                                  placeholder="an e-mail address, phone number (any format), name or IBAN")
            searched = st.form_submit_button("Search findings", icon=":material/search:")
        st.caption("Compared by a salted hash of the normalised value against what ingest recorded: the value is "
                   "neither stored nor logged. " + (f"Collection **{collection}** only." if collection else
                                                    "Every collection you may read."))
        if searched:
            try:
                # kept for this session's reruns (a row opened below), never the value itself
                st.session_state[MATCHES] = (collection, documents_with_value(platform, value, collection, ctx))
            except GroundworkError as exc:
                st.session_state.pop(MATCHES, None)
                st.error(str(exc))
                return
        kept = st.session_state.get(MATCHES)
        if kept is None or kept[0] != collection:
            return
        matches = kept[1]
        if not matches:
            st.info("No document's recorded findings hold this value.")
            return
        ids = [m.document_id for m in matches]

        def open_selected() -> None:
            rows = st.session_state[MATCHES_TABLE].selection.rows
            if rows and rows[0] < len(ids):
                st.query_params["doc"] = str(ids[rows[0]])
                st.query_params.pop("chunk", None)

        st.dataframe(pd.DataFrame([{
            "document": m.document_id, "title": m.title, "collection": m.collection, "as": ", ".join(m.entity_types),
            "findings": m.findings,
            "chunks": _listed(p["chunk"] for p in m.places), "pages": _listed(p["page"] for p in m.places),
        } for m in matches]), hide_index=True, width="stretch", key=MATCHES_TABLE, on_select=open_selected,
            selection_mode="single-row")
        st.caption(f"{len(matches):,} document{'' if len(matches) == 1 else 's'} · select a row to open it")
