"""PDF reader: text per page, running headers, footers and page numbers removed, wrapped lines joined."""
from __future__ import annotations

import io
import re
from pathlib import Path

from backend.ingest.clean import clean_text
from backend.ingest.loaders.common import Part, Reject, one_line

_PAGE_NUMBER_RE = re.compile(r"^\s*(?:page\s+)?\d+\s*(?:(?:of|/)\s*\d+)?\s*$|^\s*[-–—]\s*\d+\s*[-–—]\s*$", re.I)
_DIGITS_RE = re.compile(r"\d+")
# PDF fonts often draw "fi", "fl"... as one ligature glyph; NFC keeps them, search wants letters.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb06": "st"})
_EDGE_LINES = 3  # lines at the top and bottom of a page where running headers and footers live


def read_pdf(raw: bytes, path: Path):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError, WrongPasswordError

    if b"%PDF-" not in raw[:1024]:
        raise Reject("is not a PDF (no %PDF- header): binary or mislabelled content")
    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
        if reader.is_encrypted:
            # Many PDFs are encrypted with an empty user password (only printing/copying restricted).
            try:
                opened = bool(reader.decrypt(""))
            except (WrongPasswordError, FileNotDecryptedError, DependencyError, NotImplementedError):
                opened = False
            if not opened:
                raise Reject("is password-protected: remove the password and ingest it again")
        pages = list(reader.pages)
    except Reject:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        raise Reject(f"is a corrupt or unreadable PDF ({one_line(exc) or type(exc).__name__})") from None
    if not pages:
        raise Reject("is a corrupt PDF: no pages found")
    page_texts, failed = [], 0
    for page in pages:
        try:
            page_texts.append(page.extract_text() or "")
        except (FileNotDecryptedError, WrongPasswordError):
            raise Reject("is password-protected: remove the password and ingest it again") from None
        except Exception:  # one damaged page (bad font, broken stream) should not cost the others
            page_texts.append("")
            failed += 1
    if failed == len(pages):
        raise Reject(f"is a corrupt PDF: text extraction failed on all {failed} page(s)")
    title = ""
    try:
        title = (reader.metadata.title if reader.metadata else "") or ""
    except Exception:  # damaged info dictionary: the title falls back to the file name
        title = ""
    page_texts = _strip_running_lines([clean_text(t.translate(_LIGATURES)) for t in page_texts])
    page_texts = [_unwrap_lines(t) for t in page_texts]
    if not any(t.strip() for t in page_texts):
        raise Reject(f"has no extractable text in {len(pages)} page(s): it looks scanned; run OCR first")
    title = re.sub(r"^Microsoft Word - ", "", one_line(title))
    if title.lower() in {"untitled", "title", "document"}:
        title = ""
    parts = [Part(text, page=i + 1) for i, text in enumerate(page_texts)]
    empty = sum(1 for t in page_texts if not t.strip())
    metadata = {"pages": len(pages), "pages_without_text": empty}
    if failed:
        metadata["pages_failed"] = failed
    return title, parts, metadata


# A PDF line break inside a sentence is only where the line was full; the chunker reads a newline as
# a strong break, so wrapped lines are joined: after a non-final character and before a lowercase one.
_WRAPPED_HYPHEN_RE = re.compile(r"(?<=\w)-\n(?=[a-z])")
_WRAPPED_LINE_RE = re.compile(r"(?<=[^\s.!?:;])\n(?=[a-z(])")


def _unwrap_lines(text: str) -> str:
    return _WRAPPED_LINE_RE.sub(" ", _WRAPPED_HYPHEN_RE.sub("-", text))


def _strip_running_lines(pages: list[str]) -> list[str]:
    """Remove page numbers and lines repeated at the top or bottom of many pages (running headers/footers)."""
    lines_per_page = [p.split("\n") for p in pages]
    repeated: set[str] = set()
    if len(pages) >= 2:
        counts: dict[str, int] = {}
        for lines in lines_per_page:
            edge = {_DIGITS_RE.sub("#", ln.strip()).lower() for ln in _edges(lines) if ln.strip()}
            for key in edge:
                counts[key] = counts.get(key, 0) + 1
        needed = max(2, -(-len(pages) * 3 // 5))  # on at least 60% of the pages
        repeated = {key for key, n in counts.items() if n >= needed}
    result = []
    for number, lines in enumerate(lines_per_page, start=1):
        keep = []
        n = len(lines)
        for i, line in enumerate(lines):
            at_edge = i < _EDGE_LINES or i >= n - _EDGE_LINES
            if at_edge and _is_running_line(line, number, repeated):
                continue
            keep.append(line)
        result.append("\n".join(keep))
    return result


def _edges(lines: list[str]) -> list[str]:
    if len(lines) <= 2 * _EDGE_LINES:
        return lines
    return lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]


def _is_running_line(line: str, page_number: int, repeated: set[str]) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if _DIGITS_RE.sub("#", stripped).lower() in repeated:
        return True
    if _PAGE_NUMBER_RE.match(stripped):
        # "Page 3 of 9" always; a bare number only when it is this page's number.
        if re.search(r"[a-z/–—-]", stripped, re.I):
            return True
        digits = _DIGITS_RE.search(stripped)  # always found: the pattern above has digits
        return digits is not None and int(digits.group()) == page_number
    return False


# --------------------------------------------------------------------------------------------
# DOCX

