"""The Admin page's Retention tab: days per collection, the conversation and trace settings, a dry run, Apply now."""
from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from backend.context import RequestContext
from backend.corpus.service import MAX_RETENTION_DAYS
from backend.models import GroundworkError
from backend.privacy.retention import RetentionReport, apply_retention_policies

PREVIEW = "admin_retention_preview_report"  # the last dry run, shown until the next one or an apply
CONFIRMING = "admin_retention_confirming"  # the dry run "Apply now" asked to confirm
RESULT = "admin_retention_result"  # what the last apply did, shown on the run after it


def _days(n: int | None) -> str:
    return "for ever" if not n else f"{n} day{'' if n == 1 else 's'}"


def _went(report: RetentionReport) -> str:
    counts = report.counts()
    text = (f"{counts['documents']} document(s), {counts['conversations']} conversation(s) with "
            f"{counts['messages']} message(s), {counts['cache_entries']} cached answer(s), "
            f"{counts['days_rolled_up']} trace day(s) rolled up")
    return text + (f"; failed: {'; '.join(report.failures)}" if report.failures else "")


def _show(report: RetentionReport) -> None:
    """What a dry run found: documents per collection (title, age), conversations per tenant, trace days."""
    documents = [{"collection": c.name, "id": d["id"], "title": d["title"], "age (days)": d["age_days"],
                  "last ingested": d["last_ingested_at"]} for c in report.collections for d in c.documents]
    conv, traces = report.conversations, report.traces
    tenants = conv.tenants if conv else []
    if documents:
        st.dataframe(pd.DataFrame(documents), hide_index=True, width="stretch", key="admin_retention_documents")
    if tenants:
        st.dataframe(pd.DataFrame(tenants), hide_index=True, width="stretch", key="admin_retention_conversations")
    if traces is not None and traces.days:
        st.caption(f"Traces: {traces.days} day(s) to roll up ({traces.traces} traces, {traces.spans} spans).")
    for failure in report.failures:
        st.error(failure, icon=":material/error:")
    if not documents and not tenants and not (traces and traces.days) and not report.failures:
        st.info("Nothing is past its retention now.", icon=":material/check_circle:")


def retention_tab(platform, ctx: RequestContext, perform: Callable[[Callable[[], object], str], bool]) -> None:
    """The tab's content; `perform(action, success)` is the page's: the backend's message on bad input, else a rerun."""
    result = st.session_state.pop(RESULT, None)
    if result:
        st.success(result, icon=":material/check_circle:")
    settings = platform.settings
    st.caption("Documents go once not ingested or updated for their collection's days; conversations once their "
               "last message is older than the conversation setting; trace days are rolled up. The retention job "
               "applies them hourly; every change and every applied run is in the audit log.")
    rows = platform.corpus.retention_settings(ctx)
    counts = {c["name"]: c["documents"] for c in platform.corpus.collections(ctx)}
    if rows:
        st.dataframe(pd.DataFrame([{"collection": r["name"], "tenant": r["tenant"], "documents": counts.get(r["name"], 0),
                                    "keep documents": _days(r["retention_days"])} for r in rows]),
                     hide_index=True, width="stretch", key="admin_retention_table")
        c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
        name = c1.selectbox("Collection", [r["name"] for r in rows], key="admin_retention_collection")
        current = next(r["retention_days"] for r in rows if r["name"] == name)
        days = c2.number_input("Keep documents (days)", min_value=1, max_value=MAX_RETENTION_DAYS, value=current,
                               step=1, key=f"admin_retention_days_{name}", placeholder="empty: for ever",
                               help="Days after a document's last ingest or update; empty keeps them for ever")
        if c3.button("Save retention", key="admin_retention_save", disabled=days == current):
            perform(lambda: platform.corpus.set_retention_days(name, None if days is None else int(days), ctx),
                    f"Documents of {name} are now kept {_days(None if days is None else int(days))}.")
    st.markdown(f"**Conversations** are kept {_days(settings.conversation_retention_days)} after their last message "
                f"(`GROUNDWORK_CONVERSATION_RETENTION_DAYS`); **traces** {_days(settings.trace_retention_days)} "
                "(`GROUNDWORK_TRACE_RETENTION_DAYS`), then rolled up into daily figures.")

    preview, apply = st.columns(2)
    if preview.button("Preview (dry run)", key="admin_retention_preview", icon=":material/preview:"):
        st.session_state.pop(CONFIRMING, None)
        st.session_state[PREVIEW] = apply_retention_policies(platform, dry_run=True, ctx=ctx, trigger="admin")
    if apply.button("Apply now", key="admin_retention_apply", type="secondary", icon=":material/auto_delete:"):
        st.session_state.pop(PREVIEW, None)
        st.session_state[CONFIRMING] = apply_retention_policies(platform, dry_run=True, ctx=ctx, trigger="admin")
    confirming: RetentionReport | None = st.session_state.get(CONFIRMING)
    if confirming is not None:
        counts_now = [sum(len(c.documents) for c in confirming.collections),
                      sum(t["conversations"] for t in (confirming.conversations.tenants if confirming.conversations else []))]
        st.warning(f"This deletes {counts_now[0]} document(s) and {counts_now[1]} conversation(s) now, as listed "
                   "below. It cannot be undone.", icon=":material/warning:")
        _show(confirming)
        yes, no = st.columns(2)
        if yes.button("Yes, apply retention", key="admin_retention_confirm", type="primary"):
            st.session_state.pop(CONFIRMING, None)
            try:
                report = apply_retention_policies(platform, ctx=ctx, trigger="admin")
            except GroundworkError as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.session_state[RESULT] = f"Retention applied: {_went(report)}."
            st.rerun()
        if no.button("Cancel", key="admin_retention_cancel"):
            st.session_state.pop(CONFIRMING, None)
            st.rerun()
    elif PREVIEW in st.session_state:
        st.markdown("**What would go now**")
        _show(st.session_state[PREVIEW])
