"""Pieces of the Data-subject requests page: the findings by store, the report downloads, an erasure's outcome."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st


def findings_summary(findings) -> None:
    """Counts, then the occurrences by store (identifiers masked), then what was searched."""
    c1, c2, c3 = st.columns(3)
    c1.metric("Occurrences", len(findings.occurrences))
    c2.metric("Stores", len(findings.by_store()))
    c3.metric("Kept by erasure", len(findings.retained), help="the audit log, accounts, and files outside the data "
                                                              "dir are listed but never changed (see why)")
    if not findings.occurrences:
        st.success("Nothing found: no store holds these identifiers.", icon=":material/check_circle:")
    else:
        st.dataframe(pd.DataFrame([{"store": s, "occurrences": n} for s, n in findings.by_store().items()]),
                     hide_index=True, key="dsr_by_store")
        rows = [o.listing() for o in findings.occurrences]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="dsr_occurrences",
                     column_config={"context": st.column_config.TextColumn("context (masked)", width="large")})
        why = {(o.store, o.action): o.why for o in findings.occurrences}
        with st.expander("What erasure does in each store, and why"):
            for (store, action), reason in why.items():
                st.markdown(f"- **{store}** ({action}): {reason}")
    with st.expander("What was searched"):
        st.markdown(f"**Tables with a specific finder:** {', '.join(findings.covered)}")
        st.markdown(f"**Tables covered only by the generic scan** (every text, JSON and BLOB column): "
                    f"{', '.join(findings.generic_only) or 'none'}")
        st.markdown("**Files scanned:** " + ", ".join(f"{k}: {v}" for k, v in findings.files_scanned.items()))
        for store, reason in findings.notes.items():
            st.markdown(f"**{store}:** {reason}")


def report_downloads(export) -> None:
    """JSON and PDF buttons; `export(fmt)` builds (and audits) a report only when its button is clicked."""
    stamp = dt.date.today().isoformat()
    left, right, _ = st.columns([1, 1, 3])
    left.download_button("Download JSON", lambda: export("json"), file_name=f"dsr-report-{stamp}.json",
                         mime="application/json", icon=":material/data_object:", key="dsr_json")
    right.download_button("Download PDF", lambda: export("pdf"), file_name=f"dsr-report-{stamp}.pdf",
                          mime="application/pdf", icon=":material/picture_as_pdf:", key="dsr_pdf")
    st.caption("The reports hold the person's data unmasked: send them through the secure document portal only.")


def erasure_outcome(outcome) -> None:
    """What the erasure changed, then the re-scan."""
    report = outcome.report
    rows = [{"store": store, "table": table, "rows changed or deleted": n}
            for store, counts in report.touched.items() for table, n in counts.items()]
    rows += [{"store": "files", "table": what, "rows changed or deleted": n} for what, n in report.files.items()]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="dsr_touched")
    if report.collections_reindexed:
        st.caption(f"Re-indexed (FAISS and BM25): {', '.join(report.collections_reindexed)}; "
                   f"{report.chunks_replaced} chunk(s) replaced.")
    st.subheader("Re-scan")
    if outcome.remaining == 0:
        st.success(f"Re-scan: 0 erasable occurrences left (request {outcome.request_id}).",
                   icon=":material/check_circle:")
    else:
        st.warning(f"Re-scan: {outcome.remaining} erasable occurrence(s) left; run the erasure again.",
                   icon=":material/warning:")
    if outcome.after.occurrences:
        st.dataframe(pd.DataFrame([{**o.listing(), "why kept": o.why} for o in outcome.after.occurrences]),
                     hide_index=True, width="stretch", key="dsr_after")
