"""One document opened in the corpus browser: metadata, preview, chunks, versions with a diff, PII findings, actions."""
from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from backend.context import RequestContext
from backend.corpus.document_detail import (
    DocumentDetail,
    VersionDiff,
    chunk_rows,
    document_detail,
    preview_sections,
    version_diff,
)
from backend.corpus.labels import TEXT_PIECES, type_label
from backend.corpus.page_images import PDF, render_page_image
from backend.corpus.privacy import PiiMasker, PiiReport, original_notice, pii_report
from backend.corpus.upload import describe
from backend.models import GroundworkError
from components.auth import scope_key
from components.corpus_actions import ask, asked, close_document, confirm_delete_document, confirm_move_document
from components.corpus_common import code_height, flash, human_bytes, status_badge, text_block
from components.corpus_personal_data import render_findings

VIEWS = ["Preview", "Chunks", "Versions", "Personal data", "Metadata"]
ENTITY_COLOURS = "#f8d7da"
CITED_COLOUR = "#fef3c7"
# Brings the cited passage into view once it is drawn (a citation's link opens the page at the top, above the
# table). A fixed text with only the chunk's integer id filled in.
SCROLL_TO = "<script>document.getElementById({target})?.scrollIntoView({{block: 'start'}});</script>"


# Each cached read is keyed by the caller's scope (scope_key(ctx)) as well as the document: a result cached for one
# caller is never served to another who may not read that document (and the read itself takes the context).
@st.cache_data(show_spinner="Looking for personal data…", max_entries=64)
def _pii(_platform, document_id: int, content_hash: str, scope: tuple, _ctx: RequestContext) -> PiiReport:
    # keyed by the content hash: a new version is analysed again, the same one never twice
    return pii_report(_platform.settings, _platform.corpus.document(document_id, _ctx).text)


@st.cache_data(show_spinner="Masking personal data…", max_entries=64)
def _masked_preview(_platform, document_id: int, content_hash: str, scope: tuple,
                    _ctx: RequestContext) -> tuple[list[tuple[str, str]], bool]:
    # personal data is masked on screen (issue 4): found once per document version, not on every rerun
    doc = _platform.corpus.document(document_id, _ctx)
    return preview_sections(doc, masker=PiiMasker(_platform.settings, doc.text))


@st.cache_data(show_spinner="Masking personal data…", max_entries=64)
def _masked_chunks(_platform, document_id: int, content_hash: str, scope: tuple, _ctx: RequestContext) -> list[dict]:
    return chunk_rows(_platform, document_id, ctx=_ctx)


@st.cache_data(show_spinner="Masking personal data…", max_entries=64)
def _masked_diff(_platform, document_id: int, old: int, new: int, scope: tuple, _ctx: RequestContext) -> VersionDiff:
    return version_diff(_platform, document_id, old, new, ctx=_ctx)  # stored versions never change


def _close() -> None:
    st.query_params.pop("chunk", None)
    close_document()


def render_document(platform, document_id: int, ctx: RequestContext, can_change: bool = True,
                    chunk_id: int | None = None) -> None:
    """The opened document, read as `ctx` may; `can_change` False (a read-only role) hides re-ingest, move, delete.
    `chunk_id` (a citation's link) shows that chunk first, highlighted, on its page for a PDF, and scrolls to it."""
    try:
        detail = document_detail(platform, document_id, ctx)
    except GroundworkError as exc:  # unknown, or in a collection this caller may not read: the same to it
        st.warning(f"Document {document_id} was not found: {exc} (it may have been deleted, or it is in a "
                   "collection you may not read).", icon=":material/search_off:")
        _close()
        return
    doc = detail.document
    with st.container(border=True, key="corpus_document"):
        title_col, badge_col = st.columns([6, 1], vertical_alignment="center")
        title_col.subheader(doc.title)
        status_badge(detail.status, badge_col)
        st.caption(f"{detail.file} · {type_label(doc.mime_type)} · collection **{doc.collection}** · "
                   f"document {doc.id}")
        if detail.notice:
            (st.warning if detail.superseded else st.info)(detail.notice)
        withheld = original_notice(platform, doc.id, doc.mime_type)
        if withheld:  # a collection that redacts at ingest keeps no original with personal data in it
            st.info(withheld, icon=":material/visibility_off:")
        tiles = st.columns(5)
        tiles[0].metric("Version", doc.version)
        tiles[1].metric("Chunks", f"{detail.chunks:,}")
        tiles[2].metric("Tokens", f"{detail.tokens:,}", help="Word pieces of the embedding model, summed over chunks")
        tiles[3].metric("Size", human_bytes(detail.size_bytes))
        tiles[4].metric("Updated", f"{doc.updated_at:%Y-%m-%d}" if doc.updated_at else "—",
                        help=f"{doc.updated_at:%Y-%m-%d %H:%M:%S}; first ingested {doc.created_at:%Y-%m-%d %H:%M}"
                        if doc.updated_at and doc.created_at else None)
        if can_change:
            _actions(platform, detail, ctx)
        elif st.button("Close", icon=":material/close:", key="doc_close"):
            _close()
            st.rerun()
        if chunk_id is not None:
            _cited_chunk(platform, doc, chunk_id, ctx)
        view = st.segmented_control("Show", VIEWS, default="Preview", key="view", bind="query-params") or "Preview"
        if view == "Preview":
            _preview(platform, doc, ctx)
        elif view == "Chunks":
            _chunks(platform, doc, ctx, chunk_id)
        elif view == "Versions":
            _versions(platform, detail, ctx)
        elif view == "Personal data":
            _pii_view(platform, detail, ctx)
        else:
            _metadata(detail)


def _actions(platform, detail: DocumentDetail, ctx: RequestContext) -> None:
    doc = detail.document
    buttons = st.columns(4)
    deleted = doc.status == "deleted"
    if buttons[0].button("Re-ingest", icon=":material/refresh:", disabled=deleted, key="doc_reingest",
                         help="Read the source file again: a changed file becomes a new version"):
        try:
            with st.spinner(f"Re-ingesting {detail.file}…"):
                outcome = platform.corpus.reingest_document(doc.id, ctx)
        except GroundworkError as exc:
            st.error(str(exc))
        else:
            kind = "error" if outcome.outcome == "failed" else "success"
            flash(kind, f"{detail.file}: {describe(outcome)}")
            st.rerun()
    if buttons[1].button("Move…", icon=":material/drive_file_move:", disabled=deleted, key="doc_move"):
        ask("move", doc.id)
    if buttons[2].button("Delete…", icon=":material/delete:", disabled=deleted, key="doc_delete"):
        ask("delete", doc.id)
    if asked("move", doc.id):
        confirm_move_document(platform, doc.id, doc.title, doc.collection, ctx)
    elif asked("delete", doc.id):
        confirm_delete_document(platform, doc.id, doc.title, detail.chunks, ctx)
    if buttons[3].button("Close", icon=":material/close:", key="doc_close"):
        _close()
        st.rerun()


def _preview(platform, doc, ctx: RequestContext) -> None:
    sections, cut = _masked_preview(platform, doc.id, doc.content_hash, scope_key(ctx), ctx)
    if not sections:
        st.caption("This version has no text.")
        return
    st.html("".join(text_block(html.escape(body), label) for label, body in sections))
    if cut:
        st.caption(f"Preview cut at 20,000 of {len(doc.text):,} characters; export or open the source for the rest.")


def _cited_chunk(platform, doc, chunk_id: int, ctx: RequestContext) -> None:
    """The chunk a citation points at: its masked text highlighted and, for a PDF, its page with the chunk marked."""
    rows = _masked_chunks(platform, doc.id, doc.content_hash, scope_key(ctx), ctx)
    row = next((r for r in rows if r["chunk id"] == chunk_id), None)
    if row is None:
        st.info(f"Chunk {chunk_id} is not in this document's current version (it was re-ingested or deleted since "
                "it was cited): the document is shown as it is now.", icon=":material/info:")
        return
    where = [f"chunk {row['#']} of {len(rows)}"]
    if row["page"] is not None:
        where.append(f"page {row['page']}" + (f" · OCR {row['OCR']}%" if row.get("OCR") is not None else ""))
    if row["heading path"]:
        where.append(row["heading path"])
    with st.container(border=True, key="cited_chunk"):
        st.markdown(f"**Cited passage** · {' · '.join(where)}")
        st.html(f'<div id="gw-chunk-{int(chunk_id)}" class="gw-cited-chunk" style="white-space: pre-wrap; '
                f'line-height: 1.5; background: {CITED_COLOUR}; border-left: 3px solid #ca8a04; padding: 0.5rem '
                f'0.75rem; scroll-margin-top: 5rem;">{html.escape(row["text"])}</div>')
        st.html(SCROLL_TO.format(target=f'"gw-chunk-{int(chunk_id)}"'), unsafe_allow_javascript=True)
        if doc.mime_type == PDF and row["page"] is not None:
            chunk = next((c for c in platform.corpus.chunks(doc.id, ctx) if c.id == chunk_id), None)
            try:
                image = render_page_image(platform, doc.id, int(row["page"]), chunk.text if chunk else "", ctx)
            except GroundworkError as exc:
                st.caption(f":material/hide_image: Page {row['page']} cannot be shown: {exc}.")
            else:
                st.image(image.png, caption=f"Page {image.page} of {image.pages}, the passage highlighted"
                         + (" · personal data covered" if image.masked else ""), width=min(720, image.width))


def _chunks(platform, doc, ctx: RequestContext, cited: int | None = None) -> None:
    rows = _masked_chunks(platform, doc.id, doc.content_hash, scope_key(ctx), ctx)
    if not rows:
        st.caption("No chunks: the document is deleted, or its text was empty.")
        return
    frame = pd.DataFrame(rows)
    frame["page"] = frame["page"].astype("Int64")  # blank, not "None", for formats without pages
    if "OCR" in frame and frame["OCR"].isna().all():
        frame = frame.drop(columns="OCR")  # only scans and images have chunks read by OCR
    shown = frame.style.apply(  # the cited chunk's row stands out as its passage does above
        lambda r: [f"background-color: {CITED_COLOUR}" if r["chunk id"] == cited else ""] * len(r), axis=1) \
        if cited is not None else frame
    st.dataframe(
        shown, hide_index=True, width="stretch", height=min(40 + 35 * len(rows), 520),
        column_config={
            "tokens": st.column_config.ProgressColumn(
                "tokens", format="%d", min_value=0, max_value=TEXT_PIECES,
                help=f"Word pieces; the model reads at most {TEXT_PIECES} per chunk"),
            "text": st.column_config.TextColumn("text", width="large"),
            "OCR": st.column_config.NumberColumn(
                "OCR", format="%d%%", help="Read by OCR: Tesseract's mean word confidence for the chunk's page"),
        },
    )


def _versions(platform, detail: DocumentDetail, ctx: RequestContext) -> None:
    versions = detail.versions
    st.dataframe(pd.DataFrame(versions), hide_index=True, width="stretch")
    if len(versions) < 2:
        st.caption("One version so far. When its file changes, re-ingest it (or upload it again under the same "
                   "name) to record a new version and compare the two here.")
        return
    numbers = [v["version"] for v in versions]
    left, right = st.columns(2)
    old = left.selectbox("From version", numbers, index=len(numbers) - 2, key="diff_from")
    new = right.selectbox("To version", numbers, index=len(numbers) - 1, key="diff_to")
    diff = _masked_diff(platform, detail.document.id, old, new, scope_key(ctx), ctx)
    if diff.identical:
        st.info(f"Versions {old} and {new} have the same text.")
        return
    st.markdown(f":green[+{diff.added} lines] · :red[−{diff.removed} lines] · {diff.similarity:.0%} of lines unchanged")
    st.code(diff.unified, language="diff", height=code_height(diff.unified), wrap_lines=True)


def _pii_view(platform, detail: DocumentDetail, ctx: RequestContext) -> None:
    doc = detail.document
    render_findings(platform, doc.id, ctx)
    report = _pii(platform, doc.id, doc.content_hash, scope_key(ctx), ctx)
    body = "".join(
        f"<span style='background:{ENTITY_COLOURS};font-weight:600'>{html.escape(piece)}</span>" if entity
        else html.escape(piece)
        for piece, entity in report.segments
    )
    st.html(text_block(body, f"Text with personal data masked ({report.findings:,} found by the recognizers now)"))
    if report.truncated:
        st.caption(f"Analysed the first {report.analysed_chars:,} of {report.total_chars:,} characters.")
    st.caption(f"Entity types looked for: {platform.settings.pii_entities} (GROUNDWORK_PII_ENTITIES).")


def _metadata(detail: DocumentDetail) -> None:
    doc = detail.document
    st.dataframe(pd.DataFrame([
        {"field": "source", "value": doc.source},
        {"field": "mime type", "value": doc.mime_type},
        {"field": "content hash (sha-256)", "value": doc.content_hash},
        {"field": "tenant", "value": doc.tenant},
        {"field": "created", "value": str(doc.created_at)},
        {"field": "updated", "value": str(doc.updated_at)},
        {"field": "sections", "value": str(len(doc.sections))},
    ]), hide_index=True, width="stretch")
    st.markdown("**From the file** (front matter, page counts, sheet names…)")
    st.json(doc.metadata)
