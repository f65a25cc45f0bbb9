"""Loaders: turn a PDF, DOCX, PPTX, HTML, Markdown, text, CSV, XLSX or e-mail file into cleaned text with located sections."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

from backend.ingest.clean import clean_text
from backend.ingest.loaders.common import Reject, assemble, human_size, one_line
from backend.ingest.loaders.docx import read_docx
from backend.ingest.loaders.email import read_eml, read_msg
from backend.ingest.loaders.html import read_html
from backend.ingest.loaders.image import IMAGE_TYPES, read_image
from backend.ingest.loaders.ocr import check_mode, ocr_pdf_pages
from backend.ingest.loaders.pdf import read_pdf
from backend.ingest.loaders.pptx import read_pptx
from backend.ingest.loaders.spreadsheet import read_csv, read_xlsx
from backend.ingest.loaders.text import read_markdown, read_text
from backend.models import InputError, LoadedDocument

SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".eml": "message/rfc822",
    ".msg": "application/vnd.ms-outlook",
    **IMAGE_TYPES,
}

# pypdf and openpyxl report recoverable oddities (damaged xref, missing default style) through logging
# and warnings; the loader turns what matters into InputError. Filters are set once here because
# warnings.catch_warnings() per call is not thread-safe.
logging.getLogger("pypdf").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module=r"(pypdf|openpyxl|docx|bs4)(\..*)?$")


def load_file(path: Path, max_bytes: int, ocr: str = "auto") -> LoadedDocument:
    """Read one file into a LoadedDocument; every bad input raises InputError naming the file.

    `ocr` (auto, always, off; see loaders/ocr.py) decides which PDF pages Tesseract reads, and whether images are read."""
    path = Path(path)
    ocr = check_mode(ocr)
    name = path.name or str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file ({path})") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise InputError(f"{name}: is a directory, not a file")
    _check_kind_and_size(name, stat.st_size, max_bytes)  # before reading: a huge file is refused unread
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    return load_bytes(raw, name, max_bytes, ocr, source=str(path))


def _check_kind_and_size(name: str, size: int, max_bytes: int) -> str:
    """The file's extension if it is supported, not empty and within the limit; else an InputError naming it."""
    ext = Path(name).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        kind = f"'{ext}'" if ext else "(no extension)"
        raise InputError(f"{name}: unsupported file type {kind} (supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    if size == 0:
        raise InputError(f"{name}: file is empty")
    if size > max_bytes:
        raise InputError(f"{name}: file is {human_size(size)}, over the {human_size(max_bytes)} limit")
    return ext


def load_bytes(raw: bytes, name: str, max_bytes: int, ocr: str = "auto", source: str = "") -> LoadedDocument:
    """Read a file's bytes (an upload, a mail's attachment) as load_file reads a file: `name` gives its type and
    prefixes every error; `source` (default: the name) becomes the document's source."""
    ocr = check_mode(ocr)
    ext = _check_kind_and_size(name, len(raw), max_bytes)
    path = Path(name)
    reader = _READERS[ext]
    try:
        if ext in IMAGE_TYPES:
            title, parts, metadata = read_image(raw, path, ocr)
        else:
            title, parts, metadata = reader(raw, path)
        if ext == ".pdf":  # pages without (enough of) a text layer are read by OCR
            parts, metadata = ocr_pdf_pages(raw, parts, metadata, ocr)
    except Reject as exc:
        raise InputError(f"{name}: {exc}") from None
    except InputError:
        raise
    except Exception as exc:  # a parser bug or damage no reader anticipated: still one clear line
        raise InputError(f"{name}: could not be read as {ext[1:].upper()} ({type(exc).__name__}: {one_line(exc)})") from None
    text, sections = assemble(parts)
    if not text:
        raise InputError(f"{name}: has no text content")
    return LoadedDocument(
        source=source or name,
        title=one_line(clean_text(title)) or path.stem,
        mime_type=SUPPORTED_EXTENSIONS[ext],
        text=text,
        sections=sections,
        metadata=metadata,
    )


_READERS = {
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
    ".text": read_text,
    ".csv": read_csv,
    ".xlsx": read_xlsx,
    ".pptx": read_pptx,
    ".eml": read_eml,
    ".msg": read_msg,
    **{ext: read_image for ext in IMAGE_TYPES},
}
