"""The progress of an upload ingest: per-file step, state and outcome, and the time left, refreshed every second."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from backend.corpus.upload import UploadJob
from components.corpus_common import human_bytes
from components.safe_markdown import safe_markdown


def _summary(job: UploadJob) -> str:
    counts = job.counts()
    order = ["ingested", "updated", "unchanged", "duplicate", "near-duplicate", "failed"]
    return " · ".join(f"{counts[name]} {name}" for name in order if counts.get(name))


def time_left_text(estimate: tuple[float, bool] | None) -> str:
    """'about 12 s left', 'at least 40 s left (still estimating)', or 'estimating the time left…' without a rate."""
    if estimate is None:
        return "estimating the time left…"
    seconds, complete = estimate
    if complete and seconds < 1:
        return "finishing…"
    amount = f"{seconds:,.0f} s" if seconds < 90 else f"{seconds / 60:,.1f} min"
    return f"about {amount} left" if complete else f"at least {amount} left (still estimating)"


def _status(job: UploadJob) -> str:
    """The phase, the files being worked on with their step, and the time left."""
    if not job.ingesting:
        return "loading the embedding model, the PII analyzer and the index"
    steps = [safe_markdown(f"{f.name}: {f.detail}") for f in job.snapshot() if f.state in ("waiting", "read") and f.step]
    return " · ".join(["; ".join(steps[:2]) + (f" (+{len(steps) - 2} more)" if len(steps) > 2 else "") if steps
                       else "ingesting", time_left_text(job.time_left())])


def _table(job: UploadJob) -> None:
    files = job.snapshot()
    frame = pd.DataFrame([
        {"file": f.name, "size": human_bytes(f.size),
         "outcome": "in progress" if f.step and f.state in ("waiting", "read") else f.state,
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
            st.progress(done / max(total, 1), text=f"{done} of {total} files done into **{job.collection}** · "
                                                   f"{_status(job)} · {time.time() - job.started_at:,.0f} s")
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
