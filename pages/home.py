"""Home: what is indexed (collections, documents, chunks, model, chunk settings, index sizes, last ingest run)."""
import pandas as pd
import streamlit as st

from components.navigation import page_context
from components.platform import get_platform

identity, ctx = page_context(__file__)

st.title("Groundwork")
st.caption("Retrieval-augmented answers over your documents, with citations you can check.")

platform = get_platform()
stats = platform.corpus.stats(ctx=ctx)
collections = stats["collections"]

if not collections and ctx.collections is not None:  # an analyst whose groups have no grant (yet)
    st.info("No collection is shared with you yet: ask an admin to grant one of your groups a collection.",
            icon=":material/lock:")
    st.stop()
if not collections:
    st.info(
        "Nothing is indexed yet. Ingest the demo handbook with `make demo` (or "
        "`python -m backend ingest data/demo --collection demo`), or any folder of PDF, DOCX, HTML, "
        "Markdown, text, CSV or XLSX files with `python -m backend ingest PATH --collection NAME`; "
        "then reload this page.",
        icon=":material/upload_file:",
    )
    st.stop()


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


tiles = st.columns(4)
tiles[0].metric("Collections", f"{len(collections):,}")
tiles[1].metric("Documents", f"{stats['documents']:,}")
tiles[2].metric("Chunks", f"{stats['chunks']:,}")
tiles[3].metric("Index size", _megabytes(stats["index_bytes"]), help="FAISS and BM25 files on disk")

built = [c["index_settings"] for c in collections if c["index_settings"]]
if built:
    models = sorted({f"{b['model_id']} (dim {b['dim']})" for b in built})
    chunking = sorted({f"{b['chunk_tokens']} word pieces, {b['chunk_overlap']} overlap" for b in built})
    st.markdown(f"**Embedding model:** {', '.join(models)} · **Chunks:** {', '.join(chunking)}")
st.caption(
    f"Current settings: model {stats['model']}, chunks of {stats['chunk_tokens']} word pieces "
    f"with {stats['chunk_overlap']} overlap."
)

st.subheader("Collections")
table = pd.DataFrame(
    [
        {
            "collection": c["name"],
            "tenant": c["tenant"],
            "documents": c["documents"],
            "chunks": c["chunks"],
            "tokens": c["tokens"],
            "index size": _megabytes(c["index_bytes"]),
            "built with": (
                f"{c['index_settings']['model_id']} · {c['index_settings']['chunk_tokens']}/"
                f"{c['index_settings']['chunk_overlap']}" if c["index_settings"] else "not indexed yet"
            ),
            "index version": c["index_version"],
            "last ingest": c["last_ingest_at"],
        }
        for c in collections
    ]
)
st.dataframe(table, hide_index=True, width="stretch")

run = stats["last_ingest_run"]
if run:
    st.subheader("Last ingest run")
    run_tiles = st.columns(4)
    run_tiles[0].metric("Run", f"#{run['id']} · {run['status']}")
    run_tiles[1].metric("Files", f"{run['files_total']:,}")
    run_tiles[2].metric("Stored or unchanged", f"{run['files_ok']:,}")
    run_tiles[3].metric("Failed", f"{run['files_failed']:,}")
    st.caption(f"Into {run['collection']!r}, started {run['started_at']:%Y-%m-%d %H:%M}; {run['chunks_added']:,} chunks added.")
