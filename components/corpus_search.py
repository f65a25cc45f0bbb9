"""Search explorer pieces: one retriever's ranking as cards with highlighted terms, and every score in one table."""
from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from backend.corpus.search_explorer import ExplainedHit, SearchExplanation
from components.corpus_common import STATUS_COLOURS, highlighted_html

TITLES = {"bm25": "BM25 (lexical)", "dense": "Dense (embeddings)", "hybrid": "Fused (what hybrid retrieval returns)"}
SHORT = {"bm25": "BM25", "dense": "dense", "hybrid": "fused"}
_BADGE = "<span style='background:{bg};color:white;border-radius:4px;padding:0 6px;font-size:0.8em'>{text}</span>"


def _score_line(hit: ExplainedHit, retriever: str) -> str:
    parts = []
    for name in ("bm25", "dense", "hybrid"):
        if name in hit.ranks:
            text = f"{SHORT[name]} {hit.scores[name]:.3f} (#{hit.ranks[name]})"
        else:
            text = f"{SHORT[name]}: not in its candidates"
        parts.append(f"<b>{html.escape(text)}</b>" if name == retriever else html.escape(text))
    return " · ".join(parts)


WEAK = _BADGE.format(bg="#6b7280", text="weak match")


def hit_card(hit: ExplainedHit, retriever: str, query_terms: list[str], weak: bool = False) -> str:
    where = " · ".join(p for p in (hit.file, hit.heading, f"page {hit.page}" if hit.page else "") if p)
    status = ""
    if hit.status in ("superseded", "deleted", "current"):
        colour = {"orange": "#d97706", "red": "#dc2626", "green": "#15803d"}[STATUS_COLOURS[hit.status]]
        status = " " + _BADGE.format(bg=colour, text=html.escape(hit.status))
    if weak:  # no query term and a low cosine: the least unrelated chunk, not an answer to the query
        status += " " + WEAK
    matched = ", ".join(hit.matched_terms) if hit.matched_terms else "none (found by meaning only)"
    notice = f"<div style='color:#b45309;font-size:0.85em'>{html.escape(hit.notice)}</div>" if hit.notice else ""
    return (
        f"<div style='font-size:0.85em;color:#555'>#{hit.ranks[retriever]} · {_score_line(hit, retriever)}</div>"
        f"<div style='font-weight:600;margin-top:2px'>{highlighted_html(hit.title_segments)}{status}</div>"
        f"<div style='font-size:0.8em;color:#666'>{html.escape(where)} · document {hit.document_id} · chunk {hit.chunk_id}</div>"
        f"{notice}"
        f"<div style='white-space:pre-wrap;line-height:1.45;margin-top:6px;font-size:0.92em'>"
        f"{highlighted_html(hit.text_segments)}</div>"
        f"<div style='font-size:0.8em;color:#666;margin-top:4px'>matched terms: {html.escape(matched)}</div>"
    )


def ranking_column(explanation: SearchExplanation, retriever: str) -> None:
    st.markdown(f"**{TITLES[retriever]}**")
    hits = explanation.ranked(retriever)
    if not hits:
        st.caption("No chunk matched." if retriever == "bm25" else "Nothing returned.")
    for hit in hits:
        with st.container(border=True, height=340):  # equal cards keep the three rankings side by side
            st.html(hit_card(hit, retriever, explanation.terms, weak=explanation.weak(hit)))


def scores_table(explanation: SearchExplanation) -> pd.DataFrame:
    rows = []
    for hit in explanation.hits.values():
        rows.append({
            "fused rank": hit.ranks.get("hybrid"), "BM25 rank": hit.ranks.get("bm25"), "dense rank": hit.ranks.get("dense"),
            "fused score": hit.scores.get("hybrid"), "BM25 score": hit.scores.get("bm25"),
            "dense score": hit.scores.get("dense"), "document": hit.title, "status": hit.status,
            "heading": hit.heading, "matched terms": ", ".join(hit.matched_terms), "chunk": hit.chunk_id,
        })
    frame = pd.DataFrame(rows)
    return frame.sort_values(["fused rank", "BM25 rank", "dense rank"], na_position="last") if rows else frame
