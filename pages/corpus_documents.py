"""Documents: filter, sort and page through the corpus in SQL; open one to inspect, re-ingest, move or delete it."""
import pandas as pd
import streamlit as st

from backend.corpus.document_list import DocumentQuery, document_facets, document_page
from backend.corpus.export import export_chunks, export_documents
from backend.corpus.labels import type_label
from backend.models import GroundworkError
from components.corpus_common import collection_picker, export_buttons, human_bytes, show_flash
from components.corpus_document import render_document
from components.corpus_personal_data import render_value_search
from components.navigation import may_change, page_context
from components.platform import get_platform

identity, ctx = page_context(__file__)

SORT_LABELS = {
    "updated": "Last updated", "created": "First ingested", "title": "Title", "collection": "Collection",
    "type": "Type", "status": "Status", "chunks": "Chunks", "tokens": "Tokens", "size": "Size", "id": "Document id",
}
TABLE_KEY = "corpus_documents_table"

platform = get_platform()
st.title("Documents")
show_flash()

filters = st.columns([2, 3, 2, 2])
collection = collection_picker(platform, "docs_collection", container=filters[0], ctx=ctx)
search = filters[1].text_input("Search title or file name", key="docs_search", placeholder="e.g. fees")
facets = document_facets(platform, collection, ctx)
types = filters[2].multiselect(
    "Type", list(facets["types"]), key="docs_types", placeholder="All types",
    format_func=lambda m: f"{type_label(m)} ({facets['types'][m]:,})")
statuses = filters[3].multiselect(
    "Status", list(facets["statuses"]), key="docs_statuses", placeholder="All but deleted",
    format_func=lambda s: f"{s} ({facets['statuses'][s]:,})",
    help="'current' and 'superseded' come from the document's own front matter; 'active' means it states none")

order = st.columns([2, 2, 1, 1, 1], vertical_alignment="bottom")
updated = order[0].date_input("Updated between", value=(), key="docs_updated", format="YYYY-MM-DD")
sort = order[1].selectbox("Sort by", list(SORT_LABELS), format_func=SORT_LABELS.get, key="docs_sort")
descending = order[2].toggle("Descending", value=sort in ("updated", "created", "chunks", "tokens", "size"),
                             key=f"docs_desc_{sort}")
personal_data = order[3].toggle("Only with personal data", key="docs_personal_data",
                                help="Only documents whose current version has personal data recorded at ingest")
page_size = order[4].selectbox("Rows per page", [25, 50, 100, 200], index=1, key="docs_page_size")

updated = tuple(updated) if isinstance(updated, (list, tuple)) else (updated,)
signature = (collection, search, tuple(types), tuple(statuses), updated, personal_data, sort, descending, page_size)
pager_key = f"docs_page_{abs(hash(signature))}"  # a new filter or sort starts again at page 1
query = DocumentQuery(
    collection=collection, search=search, mime_types=tuple(types), statuses=tuple(statuses),
    updated_from=updated[0] if updated else None, updated_to=updated[-1] if updated else None,
    personal_data=personal_data, order_by=sort, descending=descending, page=int(st.session_state.get(pager_key, 1)),
    page_size=page_size,
)
try:
    result = document_page(platform, query, ctx)
except GroundworkError as exc:
    st.error(str(exc))
    st.stop()

st.session_state["docs_page_ids"] = [row["id"] for row in result.rows]


def _open_selected() -> None:
    rows = st.session_state[TABLE_KEY].selection.rows
    ids = st.session_state.get("docs_page_ids", [])
    if rows and rows[0] < len(ids):
        st.query_params["doc"] = str(ids[rows[0]])
        st.query_params.pop("chunk", None)  # a citation's chunk belongs to the document it opened


if not result.rows:
    st.info("No document matches these filters." if result.total == 0 and (search or types or statuses or updated
                                                                            or personal_data)
            else "This collection holds no documents yet.")
else:
    table = pd.DataFrame(result.rows)[
        ["title", "updated_at", "status", "file", "collection", "type", "version", "chunks", "tokens", "size_bytes",
         "personal_data"]]
    table["size_bytes"] = table["size_bytes"].map(human_bytes)  # 80 B, 12.4 KB, 3.1 MB: not "0.0 KB"
    st.dataframe(
        table, hide_index=True, width="stretch", key=TABLE_KEY, on_select=_open_selected,
        selection_mode="single-row", height=min(38 + 35 * len(table), 460),
        column_config={
            # "updated" next to the title and fixed widths elsewhere: at 1400 px it was cut off past a wide "file"
            "title": st.column_config.TextColumn("title", width="medium"),
            "file": st.column_config.TextColumn("file", width=150),
            "collection": st.column_config.TextColumn("collection", width=110),
            "type": st.column_config.TextColumn("type", width=80),
            "status": st.column_config.TextColumn("status", width=90),
            "version": st.column_config.NumberColumn("version", width=55),
            "chunks": st.column_config.NumberColumn("chunks", width=55),
            "tokens": st.column_config.NumberColumn("tokens", width=60),
            "size_bytes": st.column_config.TextColumn("size", width=70),
            "personal_data": st.column_config.NumberColumn(
                "personal data", width=70, help="Personal-data findings recorded at ingest (0: none, or not scanned)"),
            "updated_at": st.column_config.DatetimeColumn("updated", format="YYYY-MM-DD HH:mm", width=125),
        },
    )
footer = st.columns([3, 2], vertical_alignment="center")
footer[0].caption(f"{result.first:,}–{result.last:,} of {result.total:,} documents · answered in "
                  f"{result.elapsed_ms:,.0f} ms · select a row to open it")
if result.pages > 1:
    with footer[1]:
        st.pagination(result.pages, default=result.page, key=pager_key, max_visible_pages=7)

if ctx.may_change():  # operators and admins: an analyst reads documents, not where a person appears
    render_value_search(platform, ctx, collection)

with st.expander("Export", icon=":material/download:"):
    st.caption(f"The {result.total:,} documents matching these filters (every page), and the chunks of "
               f"{'collection ' + collection if collection else 'every collection'}.")
    export_buttons("Documents", lambda fmt: export_documents(platform, query, fmt, ctx=ctx),
                   "documents", "export_documents")
    export_buttons("Chunks", lambda fmt: export_chunks(platform, collection, fmt, ctx=ctx),
                   f"chunks-{collection or 'all'}", "export_chunks")

document_id = st.query_params.get("doc")
chunk_id = st.query_params.get("chunk")  # a citation's link: ?doc=<id>&chunk=<id> opens the document at that chunk
if document_id:
    if not document_id.isdigit():
        st.warning(f"doc={document_id!r} in the address is not a document id.")
    elif chunk_id is not None and not chunk_id.isdigit():
        st.warning(f"chunk={chunk_id!r} in the address is not a chunk id.")
    else:
        render_document(platform, int(document_id), ctx, can_change=may_change(identity.role, "corpus_documents"),
                        chunk_id=int(chunk_id) if chunk_id else None)
