"""A citation card: the source's title, page or heading and support score; opens to the quote highlighted in its chunk."""
from __future__ import annotations

import html

import streamlit as st

SUPPORTED_ICON = ":material/verified:"
UNSUPPORTED_ICON = ":material/report:"


def where(citation: dict) -> str:
    """'p. 3 · Fees > Transfers' (the document title is left out of the heading path: the card shows it)."""
    parts = []
    if citation.get("page") is not None:
        parts.append(f"p. {citation['page']}")
    headings = list(citation.get("heading_path") or [])
    if headings and headings[0] == citation.get("title"):
        headings = headings[1:]
    if headings:
        parts.append(" > ".join(headings))
    return " · ".join(parts)


def highlighted_chunk(context: str, start: int, end: int) -> str:
    """The chunk as escaped HTML with the quoted span inside <mark>."""
    if not context or not 0 <= start < end <= len(context):
        return f'<div class="gw-chunk">{html.escape(context or "")}</div>'
    before, quote, after = context[:start], context[start:end], context[end:]
    return (
        '<div class="gw-chunk" style="white-space: pre-wrap; line-height: 1.5; font-size: 0.92rem;">'
        f'{html.escape(before)}<mark class="gw-quote" style="background: #fde68a; padding: 0 2px;">'
        f"{html.escape(quote)}</mark>{html.escape(after)}</div>"
    )


def card_label(citation: dict) -> str:
    location = where(citation)
    support = f"support {citation['score']:.2f}" if citation.get("supported", True) else f"NOT supported ({citation['score']:.2f})"
    parts = [f"[{citation['marker']}] {citation['title'] or 'Untitled'}", location, support]
    return " · ".join(p for p in parts if p)


def citation_card(citation: dict) -> None:
    supported = citation.get("supported", True)
    with st.expander(card_label(citation), icon=SUPPORTED_ICON if supported else UNSUPPORTED_ICON):
        if not supported:
            st.warning("This passage does not support the sentence that cites it: do not rely on that sentence.",
                       icon=":material/report:")
        st.html(highlighted_chunk(citation.get("context") or citation["quote"],
                                  citation.get("quote_start", 0), citation.get("quote_end", 0)))
        st.caption(f"Document {citation['document_id']} · chunk {citation['chunk_id']} · "
                   f"support score {citation['score']:.2f} (how well the highlighted span backs the cited sentence)")


def citation_cards(citations: list[dict]) -> None:
    if not citations:
        return
    st.caption("Sources")
    for citation in sorted(citations, key=lambda c: (c["marker"], c.get("quote_start", 0))):
        citation_card(citation)
