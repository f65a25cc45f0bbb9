"""Small pieces the corpus browser pages share: collection picker, flash messages, highlighted text, exports."""
from __future__ import annotations

import html
from functools import partial
from typing import Callable

import streamlit as st

from backend.corpus.export import EXPORT_FORMATS

ALL_COLLECTIONS = "All collections"
STATUS_COLOURS = {"superseded": "orange", "deleted": "red", "current": "green", "active": "gray", "draft": "violet"}


def collection_picker(platform, key: str, label: str = "Collection", include_all: bool = True,
                      container=st, ctx=None) -> str | None:
    """A collection name the caller (`ctx`) may read, or None for 'all collections' (when offered); stops the page
    when there are none."""
    names = platform.corpus.collection_names(ctx)
    if not names:
        st.info("Nothing is indexed yet. Upload files on the **Upload** page, or run "
                "`python -m backend ingest PATH --collection NAME`.", icon=":material/upload_file:")
        st.stop()
    options = ([ALL_COLLECTIONS] if include_all else []) + names
    if st.session_state.get(key) not in options:  # first visit, or a renamed or deleted collection
        default = platform.settings.default_collection
        st.session_state[key] = options[0] if include_all or default not in names else default
    chosen = container.selectbox(label, options, key=key)
    return None if chosen == ALL_COLLECTIONS else chosen


def flash(kind: str, message: str) -> None:
    """A message shown once at the top of the next run (after an action and st.rerun)."""
    st.session_state["corpus_flash"] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop("corpus_flash", (None, None))
    if kind == "success":
        st.success(message, icon=":material/check_circle:")
    elif kind == "error":
        st.error(message, icon=":material/error:")
    elif kind:
        st.info(message)


def status_badge(status: str, container=st) -> None:
    container.badge(status, color=STATUS_COLOURS.get(status, "blue"))


def highlighted_html(segments: list[tuple[str, bool]]) -> str:
    """Escaped text with the matched pieces in <mark>."""
    return "".join(
        f"<mark style='background:#ffe08a;padding:0 1px'>{html.escape(piece)}</mark>" if matched else html.escape(piece)
        for piece, matched in segments
    )


def text_block(body_html: str, label: str = "") -> str:
    """A readable block of (already escaped) text that keeps its line breaks."""
    heading = f"<div style='font-weight:600;margin:0.6em 0 0.2em'>{html.escape(label)}</div>" if label else ""
    return f"{heading}<div style='white-space:pre-wrap;line-height:1.5'>{body_html}</div>"


def human_bytes(size: int | None) -> str:
    if size is None or size != size:  # None, or NaN from a pandas column
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"


CODE_LINE_PX, CODE_PADDING_PX = 21, 34


def code_height(text: str, cap_px: int = 480) -> int | str:
    """A code box as tall as its lines ("content") until that passes `cap_px`, then `cap_px` with a scrollbar."""
    lines = text.count("\n") + 1
    return "content" if CODE_PADDING_PX + CODE_LINE_PX * lines <= cap_px else cap_px


def export_buttons(label: str, make: Callable[[str], bytes], file_stem: str, key: str, container=st,
                   formats: tuple[str, ...] = tuple(EXPORT_FORMATS)) -> None:
    """A download button per format (CSV, Parquet); the file is built only when one is clicked (`make` runs then, in
    a thread of its own: the export functions audit each file they build, so a drawn button records nothing)."""
    columns = container.columns(len(EXPORT_FORMATS))
    for column, fmt in zip(columns, formats):
        mime, extension = EXPORT_FORMATS[fmt]
        column.download_button(
            f"{label} ({extension.upper()})", data=partial(make, fmt), file_name=f"{file_stem}.{extension}",
            mime=mime, key=f"{key}_{fmt}", on_click="ignore", icon=":material/download:",
            help="Built when clicked; each download is recorded in the audit log (who, what, how many rows).",
        )
