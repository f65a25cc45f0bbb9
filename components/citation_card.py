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


def highlighted_chunk(context: str, spans: list[tuple[int, int, bool]]) -> str:
    """The chunk as escaped HTML with each quoted span inside <mark> (red when it does not support its sentence)."""
    out, position = [], 0
    for start, end, supported in sorted(s for s in spans if 0 <= s[0] < s[1] <= len(context or "")):
        if start < position:
            continue  # overlapping quotes: the first one marks the text
        colour = "#fde68a" if supported else "#fecaca"
        out.append(html.escape(context[position:start]))
        out.append(f'<mark class="gw-quote" style="background: {colour}; padding: 0 2px;">{html.escape(context[start:end])}</mark>')
        position = end
    out.append(html.escape((context or "")[position:]))
    return ('<div class="gw-chunk" style="white-space: pre-wrap; line-height: 1.5; font-size: 0.92rem;">'
            + "".join(out) + "</div>")


def card_label(group: list[dict]) -> str:
    first = group[0]
    worst = min(group, key=lambda c: c["score"])
    if all(c.get("supported", True) for c in group):
        support = f"support {worst['score']:.2f}"
    else:
        support = f"NOT supported ({worst['score']:.2f})"
    quotes = f"{len(group)} quotes" if len(group) > 1 else ""
    parts = [f"[{first['marker']}] {first['title'] or 'Untitled'}", where(first), support, quotes]
    return " · ".join(p for p in parts if p)


def citation_card(group: list[dict]) -> None:
    """One card per cited passage: every quote the answer took from it is highlighted in the chunk."""
    supported = all(c.get("supported", True) for c in group)
    first = group[0]
    with st.expander(card_label(group), icon=SUPPORTED_ICON if supported else UNSUPPORTED_ICON):
        if not supported:
            st.warning("A sentence citing this passage is not supported by it (marked red, and [n?] in the answer): "
                       "do not rely on that sentence.", icon=":material/report:")
        context = first.get("context") or first["quote"]
        spans = [(c.get("quote_start", 0), c.get("quote_end", 0), c.get("supported", True)) for c in group]
        if not first.get("context"):
            spans = [(0, len(context), supported)]
        st.html(highlighted_chunk(context, spans))
        scores = ", ".join(f"{c['score']:.2f}" for c in group)
        st.caption(f"Document {first['document_id']} · chunk {first['chunk_id']} · support score {scores} "
                   "(how well the highlighted text backs the sentence that cites it, 0 to 1)")


def citation_cards(citations: list[dict]) -> None:
    if not citations:
        return
    st.caption("Sources")
    groups: dict[tuple[int, int], list[dict]] = {}
    for citation in sorted(citations, key=lambda c: (c["marker"], c.get("quote_start", 0))):
        groups.setdefault((citation["marker"], citation["chunk_id"]), []).append(citation)
    for group in groups.values():
        citation_card(group)
