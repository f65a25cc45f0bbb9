"""PPTX reader: one section per slide (its title, its number as the page), shapes in reading order, tables, notes."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Iterator

from backend.ingest.loaders.common import Part, Reject, one_line, render_table

# Every OLE compound file (a legacy .ppt, or an OOXML file encrypted with a password) starts with these bytes.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An encrypted OOXML file is an OLE container holding this stream (MS-OFFCRYPTO); its name is stored in UTF-16.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
# Shapes whose tops differ by less than this (a quarter inch, in EMU) are one row, read left to right: boxes
# side by side are seldom pixel-aligned.
_ROW_TOLERANCE = 228600
NOTES_LABEL = "Speaker notes"


def reject_ole(raw: bytes, kind: str) -> None:
    """A clear Reject for an OOXML file that arrived in an OLE container: encrypted, or a legacy binary format."""
    if not raw.startswith(OLE_MAGIC):
        return
    if _ENCRYPTED_STREAM in raw:
        raise Reject(f"is password-protected (an encrypted {kind}): remove the password and ingest it again")
    raise Reject(f"is a legacy binary Office file (an OLE container), not a {kind} package: save it as {kind} first")


def read_pptx(raw: bytes, path: Path):
    from pptx import Presentation

    reject_ole(raw, "PPTX")
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise Reject("is not a valid PPTX file (not a ZIP package): corrupt or mislabelled")
    try:
        presentation = Presentation(io.BytesIO(raw))
        slides = list(presentation.slides)
    except Exception as exc:  # PackageNotFoundError, KeyError for a missing part, lxml errors
        raise Reject(f"is not a valid PPTX file ({one_line(exc) or type(exc).__name__})") from None
    parts: list[Part] = []
    tables = notes = 0
    first_title = ""
    for number, slide in enumerate(slides, start=1):
        title = _slide_title(slide)
        if title and not first_title:
            first_title = title
        heading = (title or f"Slide {number}",)
        for kind, text in _shape_texts(slide.shapes):
            tables += kind == "table"
            parts.append(Part(text, page=number, heading_path=heading))
        note = _notes_text(slide)
        if note:
            notes += 1
            # Marked in the text itself, so a chunk (and a citation of it) says these words were not on the slide.
            parts.append(Part(f"{NOTES_LABEL}: {note}", page=number, heading_path=heading))
    if not any(part.text.strip() for part in parts):
        raise Reject(f"has no text on any of its {len(slides)} slide{'' if len(slides) == 1 else 's'} "
                     "(nor in speaker notes): pictures on slides are not read")
    title = one_line(presentation.core_properties.title) or first_title
    return title, parts, {"slides": len(slides), "tables": tables, "slides_with_notes": notes}


def _slide_title(slide) -> str:
    try:
        shape = slide.shapes.title
    except Exception:  # noqa: BLE001 - a layout without a title placeholder, or a damaged one: no title
        return ""
    return one_line(shape.text_frame.text) if shape is not None and shape.has_text_frame else ""


def _reading_order(shapes) -> list:
    """Shapes top to bottom, a row left to right; the title first whatever its position (it heads the slide)."""
    def key(shape) -> tuple:
        is_title = getattr(shape, "is_placeholder", False) and _is_title_placeholder(shape)
        top, left = shape.top, shape.left
        return (not is_title, top is None, (top or 0) // _ROW_TOLERANCE, left or 0)

    return sorted(shapes, key=key)


def _is_title_placeholder(shape) -> bool:
    try:
        return "TITLE" in str(shape.placeholder_format.type)  # TITLE and CENTER_TITLE
    except Exception:  # noqa: BLE001 - not a placeholder after all
        return False


def _shape_texts(shapes) -> Iterator[tuple[str, str]]:
    """("text" | "table", text) for each shape with text, grouped shapes read within their group."""
    from pptx.shapes.group import GroupShape

    for shape in _reading_order(shapes):
        if isinstance(shape, GroupShape):  # its own shapes, in their order (their positions are the group's)
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            lines = list(render_table([cell.text for cell in row.cells] for row in shape.table.rows))
            if lines:
                yield "table", "\n".join(lines)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = _frame_text(shape.text_frame)
            if text:
                yield "text", text


def _frame_text(frame) -> str:
    """A text frame's paragraphs one per line; a line break inside a paragraph (a vertical tab) is a line too."""
    lines = []
    for paragraph in frame.paragraphs:
        for line in paragraph.text.replace("\v", "\n").split("\n"):
            line = " ".join(line.split())
            if line:
                lines.append("  " * paragraph.level + line)
    return "\n".join(lines)


def _notes_text(slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return _frame_text(frame) if frame is not None else ""
