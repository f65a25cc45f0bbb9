"""A citation card: title, page and support score; opens to the quote in its chunk, the PDF page, the document."""
from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from backend.context import RequestContext
from backend.corpus.page_images import PageImage, render_page_image
from backend.models import GroundworkError

SUPPORTED_ICON = ":material/verified:"
UNSUPPORTED_ICON = ":material/report:"
PAGE_IMAGE_WIDTH = 700  # pixels on screen: the page stays readable inside a chat message
MATCH_NOTES = {
    "exact": "the quote highlighted",
    "partial": "the closest run of the quote's words highlighted (the quote is redacted or not word for word on "
               "the page)",
    "none": "the quote was not found in the page's text layer",
}
# A click on a marker [n] (an in-page link, components.safe_markdown.link_markers) opens its card, then scrolls to
# it: without this the browser reveals the card's content itself, but Streamlit's expander still counts it closed
# and keeps it inert (its links dead). A fixed text, installed once per browser tab; no input reaches it.
MARKER_CLICKS = """<script>
if (!window.gwCitationLinks) {
  window.gwCitationLinks = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#gw-cite-"]');
    const target = link && document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!target) return;
    event.preventDefault();
    const card = target.closest("details");
    const summary = card && card.querySelector(":scope > summary");
    if (summary && card.querySelector(":scope > [inert]")) summary.click();
    const shown = card || target;
    shown.style.scrollMarginTop = "5rem";
    // The chat follows its bottom while its height changes (the card opening is animated, its page image comes
    // later), and stops following only at a scroll that it sees while nothing moves. So: bring the card up, and
    // whenever it has been pulled away and everything has held still for 150 ms, bring it up again, until it
    // stays in place; and so again whenever the card changes size, for 5 s (or until the reader scrolls).
    let reader = false, timer = 0;
    const started = Date.now();
    const mine = (e) => { if (e.isTrusted) reader = true; };
    window.addEventListener("wheel", mine, {capture: true, passive: true, once: true});
    const follow = () => {
      clearInterval(timer);
      let wanted = 0, last = "", quiet = 0;
      const bring = () => { shown.scrollIntoView({block: "start"}); wanted = shown.getBoundingClientRect().top; };
      bring();
      timer = setInterval(() => {
        const box = shown.getBoundingClientRect();
        const now = `${Math.round(box.height)}:${Math.round(box.top)}`;
        quiet = now === last ? quiet + 1 : 0;
        last = now;
        const placed = Math.abs(box.top - wanted) < 30;
        if (reader || Date.now() - started > 5000 || (placed && quiet >= 4)) clearInterval(timer);
        else if (!placed && quiet >= 3) bring();
      }, 50);
    };
    let width = -1, height = -1;
    const resized = new ResizeObserver(([entry]) => {
      const box = entry.contentRect;
      if (reader || Date.now() - started > 5000) return resized.disconnect();
      if (Math.abs(box.height - height) >= 1 || Math.abs(box.width - width) >= 1) follow();
      width = box.width; height = box.height;
    });
    resized.observe(shown);
  });
}
</script>"""


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


def anchor_id(answer_key, marker: int) -> str:
    """The in-page id of an answer's card for marker n: unique per answer (its message id or trace id)."""
    return f"gw-cite-{re.sub(r'[^A-Za-z0-9]', '', str(answer_key)) or 'answer'}-{marker}"


def highlighted_chunk(context: str, spans: list[tuple[int, int, bool]], anchor: str = "") -> str:
    """The chunk as escaped HTML with each quoted span inside <mark> (red when it does not support its sentence);
    `anchor` (an anchor_id) is its element id, the target of the answer's marker link."""
    out, position = [], 0
    for start, end, supported in sorted(s for s in spans if 0 <= s[0] < s[1] <= len(context or "")):
        if start < position:
            continue  # overlapping quotes: the first one marks the text
        colour = "#fde68a" if supported else "#fecaca"
        out.append(html.escape(context[position:start]))
        out.append(f'<mark class="gw-quote" style="background: {colour}; padding: 0 2px;">{html.escape(context[start:end])}</mark>')
        position = end
    out.append(html.escape((context or "")[position:]))
    target = f' id="{html.escape(anchor)}"' if anchor else ""
    return (f'<div class="gw-chunk"{target} style="white-space: pre-wrap; line-height: 1.5; font-size: 0.92rem; '
            'scroll-margin-top: 7rem;">' + "".join(out) + "</div>")


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


def citation_anchors(citations: list[dict], answer_key) -> dict[int, str]:
    """marker -> the id of its card in this answer (what link_markers links each [n] to)."""
    return {int(c["marker"]): anchor_id(answer_key, int(c["marker"])) for c in citations}


def citation_card(group: list[dict], anchor: str = "", platform=None, ctx: RequestContext | None = None,
                  documents_link: bool = False) -> None:
    """One card per cited passage: every quote the answer took from it highlighted in the chunk and, for a PDF
    (with `platform`), on the page; `documents_link` links the document view at this chunk."""
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
        st.html(highlighted_chunk(context, spans, anchor))
        if first.get("page") is not None and platform is not None:  # only PDF chunks have pages
            page_image(platform, group, ctx)
        if documents_link:
            page_link("pages/corpus_documents.py", f"Open {first['title'] or 'the document'} at this passage",
                      {"doc": str(first["document_id"]), "chunk": str(first["chunk_id"])}, ":material/open_in_new:")
        scores = ", ".join(f"{c['score']:.2f}" for c in group)
        st.caption(f"Document {first['document_id']} · chunk {first['chunk_id']} · support score {scores} "
                   "(how well the highlighted text backs the sentence that cites it, 0 to 1)")


def page_link(page: str, label: str, query: dict[str, str], icon: str, help: str | None = None) -> None:
    """A link to another page of the app, opened in this session (the conversation stays as it is)."""
    try:
        st.page_link(page, label=label, query_params=query, icon=icon, help=help)
    except StreamlitPageNotFoundError:  # a page run alone, outside app.py's navigation: the address as text
        st.caption(f"{label}: `{page.removeprefix('pages/').removesuffix('.py')}?{urlencode(query)}`")


def page_caption(image: PageImage) -> str:
    masked = " · personal data covered" if image.masked else ""
    return f"Page {image.page} of {image.pages} · {MATCH_NOTES[image.match]}{masked}"


def page_image(platform, group: list[dict], ctx: RequestContext | None) -> None:
    """The cited PDF page with the group's quotes highlighted, or one line on why it cannot be shown."""
    first = group[0]
    try:
        image = render_page_image(platform, int(first["document_id"]), int(first["page"]),
                                  [c["quote"] for c in group], ctx)
    except GroundworkError as exc:  # its file gone, the document deleted or no longer readable by this caller
        st.caption(f":material/hide_image: Page {first['page']} cannot be shown: {exc}.")
        return
    st.image(image.png, caption=page_caption(image), width=min(PAGE_IMAGE_WIDTH, image.width),
             alt=f"Page {image.page} of {first['title'] or 'the document'}")


def citation_cards(citations: list[dict], answer_key="answer", platform=None, ctx: RequestContext | None = None,
                   documents_link: bool = False) -> None:
    """The answer's cards in marker order; each marker's first card carries the anchor its [n] links to."""
    if not citations:
        return
    st.caption("Sources")
    st.html(MARKER_CLICKS, unsafe_allow_javascript=True)
    groups: dict[tuple[int, int], list[dict]] = {}
    for citation in sorted(citations, key=lambda c: (c["marker"], c.get("quote_start", 0))):
        groups.setdefault((citation["marker"], citation["chunk_id"]), []).append(citation)
    anchors = citation_anchors(citations, answer_key)
    for (marker, _), group in groups.items():
        citation_card(group, anchors.pop(int(marker), ""), platform, ctx, documents_link)
