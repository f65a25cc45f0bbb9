"""Chat pieces: the shared chat service, one rendered turn (answer, notices, sources, feedback, stage details)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.chat.service import ChatService
from backend.gateway.identity import QuotaExceeded, RateLimited
from backend.models import GroundworkError
from backend.observability.conventions import STAGE_LABELS
from components.auth import request_context, require_identity
from components.citation_card import citation_anchors, citation_cards, page_link
from components.navigation import may_use
from components.platform import get_platform
from components.safe_markdown import link_markers, safe_markdown
from components.tool_calls import tool_call_details, tool_proposals


@st.cache_resource(show_spinner="Loading the answer pipeline…")
def _warm_chat(platform_id: int, _platform) -> ChatService:
    chat = _platform.chat
    try:
        chat.warm()  # the first question then answers at warm speed
    except GroundworkError:
        pass  # e.g. an unusable configured generator: the page shows that message when asked
    return chat


def get_chat() -> ChatService:
    """The platform's one chat service, warmed once per process (the platform is shared by every session)."""
    platform = get_platform()
    return _warm_chat(id(platform), platform)


def not_answered(exc: GroundworkError) -> None:
    """Why a question got no answer, as the gateway or the chat service said it, and what the user can do."""
    if isinstance(exc, RateLimited):
        st.warning(f"Too many questions in the last minute, so this one was not asked. Try again in "
                   f"{exc.retry_after} s. ({exc})", icon=":material/hourglass_top:")
    elif isinstance(exc, QuotaExceeded):
        st.error(f"Your tenant's monthly quota is used up, so this question was not asked: {exc} (on the Admin "
                 "page, under Quotas and usage).", icon=":material/block:")
    else:
        st.error(str(exc), icon=":material/error:")


def _fmt_ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def details(answer: dict, trace_link: bool = False) -> None:
    """Per-stage timings, tokens, cost, cache status and tool calls of one answer, collapsed by default; with
    `trace_link` (a role that may open the trace explorer) its trace id opens the trace there."""
    stages = answer.get("stage_ms") or {}
    cached = "yes" if answer.get("cached") else "no"
    label = (f"Details · {_fmt_ms(answer.get('latency_ms', 0.0))} · {answer.get('tokens_in', 0):,} tokens in · "
             f"{answer.get('tokens_out', 0):,} out · ${answer.get('cost_usd', 0.0):.5f} · cached: {cached}")
    with st.expander(label, icon=":material/timer:"):
        generator = answer.get("generator", "")
        model = f" ({answer['model']})" if answer.get("model") else ""
        trace_id = answer.get("trace_id") or ""
        trace = "" if trace_link and trace_id else f" · trace `{trace_id or '-'}`"
        st.markdown(f"Generator: **{generator}{model}** · grounded: **{'yes' if answer.get('grounded') else 'no'}**"
                    + trace)
        if trace_link and trace_id:
            page_link("pages/trace_explorer.py", f"Trace {trace_id}", {"trace": trace_id}, ":material/timeline:",
                      help="Open this answer's spans in the trace explorer")
        if answer.get("standalone_question"):
            st.caption(f"Searched for: {answer['standalone_question']}")
        if stages:
            table = pd.DataFrame({"stage": [STAGE_LABELS.get(s, s) for s in stages], "ms": [round(v, 1) for v in stages.values()]})
            st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * len(table), 460))
        tool_call_details(answer.get("tool_calls") or [])


@st.fragment
def feedback(message_id: int, existing: dict | None = None) -> None:
    """Thumbs up/down with an optional comment; a click reruns only this fragment, not the conversation."""
    chat = get_chat()
    saved = st.session_state.setdefault("feedback_saved", {})
    if existing:  # a reopened conversation shows the rating it already has
        saved.setdefault(message_id, (existing["score"], existing["comment"]))
        st.session_state.setdefault(f"comment-{message_id}", existing["comment"])
    score = st.feedback("thumbs", key=f"feedback-{message_id}", default=existing["score"] if existing else None)
    if score is None:
        return
    comment = st.text_input("Comment (optional)", key=f"comment-{message_id}", placeholder="What was right or wrong?")
    if saved.get(message_id) != (score, comment):
        chat.feedback(message_id, int(score), comment or "")
        saved[message_id] = (score, comment)
        st.caption("Thanks, your feedback was recorded." if not comment else "Thanks, your comment was recorded.")


def render_answer(answer: dict, existing_feedback: dict | None = None, identity=None) -> None:
    """One assistant turn from its stored dict: nothing is recomputed but the cited PDF pages (kept in a cache).
    Each [n] links to its card; what the card and the details link to depends on the signed-in role."""
    identity = identity or require_identity()  # the page passes the one it has: no session lookup per turn
    citations = answer.get("citations") or []
    answer_key = answer.get("message_id") or answer.get("trace_id") or "answer"
    st.markdown(link_markers(safe_markdown(answer["text"]), citation_anchors(citations, answer_key)))
    for notice in answer.get("notices") or []:
        st.caption(f":material/info: {notice}")
    if not answer.get("found", True):
        st.caption("The retrieved passages do not answer this, so no answer was made up.")
    tool_proposals(answer, identity)
    citation_cards(citations, answer_key, get_platform(), request_context(identity),
                   documents_link=may_use(identity.role, "corpus_documents"))
    if answer.get("message_id"):
        feedback(int(answer["message_id"]), existing_feedback)
    details(answer, trace_link=may_use(identity.role, "trace_explorer"))
