"""The progress of an upload ingest: per-file state and outcome, refreshed every second while it runs."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from backend.corpus.upload import UploadJob
from components.corpus_common import human_bytes


def _summary(job: UploadJob) -> str:
    counts = job.counts()
    order = ["ingested", "updated", "unchanged", "duplicate", "near-duplicate", "failed"]
    return " · ".join(f"{counts[name]} {name}" for name in order if counts.get(name))


def _table(job: UploadJob) -> None:
    files = job.snapshot()
    frame = pd.DataFrame([
        {"file": f.name, "size": human_bytes(f.size), "outcome": f.state,
         "chunks": f.chunks or None, "detail": f.detail, "document": f.document_id}
        for f in files
    ])
    frame["chunks"], frame["document"] = frame["chunks"].astype("Int64"), frame["document"].astype("Int64")
    st.dataframe(frame, hide_index=True, width="stretch", height=min(38 + 35 * len(files), 460),
                 column_config={"detail": st.column_config.TextColumn("detail", width="large")})


def render_job(job: UploadJob) -> None:
    """Progress while the job runs (a fragment polling once a second, so the rest of the page stays usable)."""

    @st.fragment(run_every=None if job.finished else 1.0)
    def progress() -> None:
        files = job.snapshot()
        total = len(files)
        done = sum(1 for f in files if f.state not in ("waiting", "read"))
        if not job.finished:
            phase = "ingesting" if job.ingesting else "loading the embedding model and the index"
            st.progress(done / max(total, 1), text=f"{done} of {total} files done into **{job.collection}** · "
                                                   f"{phase} · {time.time() - job.started_at:,.0f} s")
            _table(job)
            return
        if st.session_state.get("upload_job_shown") == id(job):
            _finished(job)
        else:
            st.session_state["upload_job_shown"] = id(job)
            st.rerun()  # the whole page: the documents it now holds, and this view without its timer

    progress()


def _finished(job: UploadJob) -> None:
    seconds = (job.finished_at or time.time()) - job.started_at
    summary = _summary(job) or "nothing to ingest"
    failed = [f for f in job.snapshot() if f.state == "failed"]
    if job.error:
        st.error(job.error)
    (st.warning if failed else st.success)(
        f"Upload into **{job.collection}** finished in {seconds:,.1f} s: {summary}.",
        icon=":material/warning:" if failed else ":material/check_circle:")
    for item in failed:  # each failure in words, not only a row in the table
        st.error(f"**{item.name}**: {item.detail}", icon=":material/error:")
    _table(job)
