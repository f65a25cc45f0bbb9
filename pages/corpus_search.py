"""Search explorer: BM25, dense and fused rankings side by side, with every score and rank and the matched terms."""
import streamlit as st

from backend.corpus.search_explorer import RETRIEVERS, explain_search
from backend.models import GroundworkError
from components.corpus_common import collection_picker
from components.corpus_search import ranking_column, scores_table
from components.navigation import page_context
from components.platform import get_platform

identity, ctx = page_context(__file__)

platform = get_platform()
st.title("Search explorer")
st.caption("Why did retrieval return that? Each column is one retriever's ranking of the same query; the fused "
           "column is exactly what hybrid retrieval hands to generation. Highlights are the words BM25 matched "
           "after lower-casing, stop words and stemming.")

controls = st.columns([2, 5, 2])
collection = collection_picker(platform, "search_collection", include_all=False, container=controls[0],
                              ctx=ctx)
query = controls[1].text_input("Query", key="q", bind="query-params", placeholder="e.g. international transfer fees")
k = controls[2].slider("Results per retriever", 3, 20, 8, key="search_k")
exclude = st.toggle("Leave out superseded documents", key="search_exclude_superseded",
                    help="Documents whose front matter says status: superseded (an older version of a policy)")

if not query.strip():
    st.info("Type a query to compare the retrievers.", icon=":material/search:")
    st.stop()

try:
    with st.spinner("Searching…"):
        explanation = explain_search(platform, query, collection, k=k, exclude_superseded=exclude, ctx=ctx)
except GroundworkError as exc:
    st.error(str(exc))
    st.stop()

terms = " ".join(f"`{t}`" for t in explanation.terms) or "no terms (only stop words): BM25 matches nothing"
st.markdown(f"BM25 saw: {terms} · ranks over {explanation.candidate_k} candidates per retriever · "
            f"answered in {explanation.elapsed_ms:,.0f} ms")
if explanation.no_real_match:
    st.caption(f":material/search_off: No real match: BM25 found none of the query's words and every dense hit has a "
               f"cosine below {explanation.weak_below:g} (GROUNDWORK_WEAK_MATCH_COSINE). These are only the least "
               "unrelated chunks; marked **weak match** below.")
superseded = explanation.superseded_in_results
if superseded:
    st.warning(
        f"Superseded documents are in these results: {', '.join(superseded)}. Their figures may be out of date; "
        "turn on **Leave out superseded documents** to see the ranking without them.", icon=":material/history:")
if explanation.excluded_superseded:
    st.info(f"Left out as superseded: {', '.join(explanation.excluded_superseded)}.")

columns = st.columns(3)
for column, retriever in zip(columns, RETRIEVERS):
    with column:
        ranking_column(explanation, retriever)

with st.expander("Every score as a table", icon=":material/table:"):
    st.dataframe(scores_table(explanation), hide_index=True, width="stretch")
    st.caption("Scores are not comparable across retrievers: BM25 is unbounded, dense is cosine similarity, "
               f"fused is {platform.settings.fusion.upper()} over the two rankings.")
    opened = st.selectbox("Open a document from these results", sorted({(h.document_id, h.title) for h in
                          explanation.hits.values()}), format_func=lambda pair: pair[1], index=None,
                          key="search_open_document")
    if opened:
        st.page_link("pages/corpus_documents.py", label=f"Open “{opened[1]}” in Documents",
                     query_params={"doc": str(opened[0])}, icon=":material/open_in_new:")
