"""Gold set sources on the Experiments page: demo, upload, BEIR import, production traffic, synthetic."""
from __future__ import annotations

from pathlib import Path, PurePath

import streamlit as st

from backend.evaluation import goldsets
from backend.evaluation.synthetic import synthetic_goldset, synthetic_unavailable_reason
from backend.models import GroundworkError, InputError


def _collection(platform, key: str, preferred: str | None = None, ctx=None) -> str | None:
    names = platform.corpus.collection_names(ctx)  # only the collections the caller may read
    if not names:
        st.warning("No collection exists yet: ingest documents first (`make demo`).", icon=":material/folder_off:")
        return None
    index = names.index(preferred) if preferred in names else 0
    return st.selectbox("Collection its documents live in", names, index=index, key=key)


def _save(platform, collection: str, build, ctx) -> None:
    """Build and store a gold set, showing the error (which names the file, line and field) instead of a trace.
    The backend checks the caller may change `collection` before `build` reads anything of it."""
    try:
        gold = goldsets.build_goldset(platform, collection, build, ctx)
    except GroundworkError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    # Rerun so the list of stored sets (drawn above) includes it; the message survives the rerun.
    st.session_state["gs_flash"] = f"Gold set **{gold.name}** stored: {len(gold.items)} questions on collection {gold.collection!r}."
    st.rerun()


def stored_flash() -> None:
    """The confirmation of the last gold set stored, shown once. Always one slot, shown or empty, so the
    elements below keep their place between reruns (an opened expander would otherwise close)."""
    slot = st.empty()
    message = st.session_state.pop("gs_flash", None)
    if message:
        slot.success(message, icon=":material/check_circle:")


def gold_set_sources(platform, ctx=None) -> None:
    demo, upload, beir, traffic, synthetic = st.tabs(["Demo", "Upload CSV / JSONL", "BEIR dataset", "Production traffic", "Synthetic"])
    with demo:
        st.caption(f"{goldsets.DEMO_GOLD_PATH.name}: questions with reference answers, the document that answers "
                   "them and a verbatim evidence quote; some are deliberately unanswerable.")
        collection = _collection(platform, "gs_demo_collection", "demo", ctx)
        if collection and st.button("Load the demo gold set", key="gs_demo_load", disabled=not goldsets.DEMO_GOLD_PATH.is_file()):
            _save(platform, collection, lambda: goldsets.demo_goldset(collection), ctx)
    with upload:
        st.caption("Columns (CSV) or fields (JSONL): `question` (required), `reference_answer`, "
                   "`relevant_document_ids` (file names or sources, separated by `;`), optional `id`, `evidence`, "
                   "`answerable`, `tags`. Each question needs a reference answer or relevant documents.")
        file = st.file_uploader("Gold file", type=["csv", "jsonl"], key="gs_upload_file")
        name = st.text_input("Name", placeholder="the file name without its extension", key="gs_upload_name")
        collection = _collection(platform, "gs_upload_collection", platform.settings.default_collection, ctx)
        if st.button("Validate and store", key="gs_upload_save", disabled=not (file and collection)):
            def build():
                try:
                    text = file.getvalue().decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(f"{file.name}: not UTF-8 text") from None
                items = goldsets.parse_gold_text(text, file.name)
                chosen = name.strip() or PurePath(file.name).stem
                return goldsets.GoldSet(goldsets.check_name(chosen), "upload", collection, items, origin=file.name)

            _save(platform, collection, build, ctx)
    with beir:
        st.caption("A BEIR directory (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv). Index its corpus first with "
                   "`python -m backend eval beir DIR`, which builds the collection `beir-<directory name>`.")
        directory = st.text_input("Directory", placeholder="../shared/eval/scifact", key="gs_beir_dir")
        cols = st.columns(3)
        split = cols[0].text_input("Split", value="test", key="gs_beir_split")
        limit = cols[1].number_input("Questions (0 = all)", min_value=0, value=0, step=50, key="gs_beir_limit")
        default = f"beir-{Path(directory).name}" if directory else ""
        collection = cols[2].text_input("Collection", value=default, key="gs_beir_collection")
        if st.button("Import", key="gs_beir_import", disabled=not (directory and collection)):
            _save(platform, collection,
                  lambda: goldsets.beir_goldset(Path(directory), split, collection, limit=int(limit) or None), ctx)
    with traffic:
        st.caption("Questions people asked (redacted as stored), sampled from the traces. A thumbs-up answer becomes "
                   "the reference; the rest are scored on latency, cost and the LLM judge when one is configured.")
        collection = _collection(platform, "gs_traffic_collection", platform.settings.default_collection, ctx)
        cols = st.columns(2)
        count = cols[0].number_input("Questions", min_value=1, max_value=1000, value=50, key="gs_traffic_n")
        rated = cols[1].checkbox("Only questions with feedback", key="gs_traffic_rated")
        if collection and st.button("Sample traffic", key="gs_traffic_sample"):
            _save(platform, collection, lambda: goldsets.traffic_goldset(
                platform.store, collection, f"traffic-{collection}", limit=int(count), only_rated=rated), ctx)
    with synthetic:
        reason = synthetic_unavailable_reason(platform.settings)
        if reason:
            st.info(f"Synthetic gold sets are {reason}.", icon=":material/block:")
        collection = _collection(platform, "gs_syn_collection", platform.settings.default_collection, ctx)
        size = st.number_input("Questions", min_value=1, max_value=200, value=10, key="gs_syn_size")
        if st.button("Generate with ragas", key="gs_syn_run", disabled=bool(reason) or not collection):
            with st.spinner("Generating questions with the LLM…"):
                _save(platform, collection,
                      lambda: synthetic_goldset(platform, collection, f"synthetic-{collection}", int(size), ctx=ctx), ctx)
