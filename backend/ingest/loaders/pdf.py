"""PDF reader: pages laid out (headings, columns, tables) by pdfplumber, running headers and footers removed, wrapped lines joined."""
from __future__ import annotations

import io
import logging
import re
from collections import Counter
from pathlib import Path

from backend.ingest.clean import clean_text
from backend.ingest.loaders.common import Part, Reject, one_line, render_table
from backend.ingest.loaders.pdf_layout import (
    Heading,
    Line,
    Word,
    find_gutter,
    find_headings,
    group_lines,
    page_words,
    reading_order,
    style_counts,
)
from backend.ingest.loaders.pdf_tables import TableBlock, aligned_tables, carry_headers, ruled_tables

_PAGE_NUMBER_RE = re.compile(r"^\s*(?:page\s+)?\d+\s*(?:(?:of|/)\s*\d+)?\s*$|^\s*[-–—]\s*\d+\s*[-–—]\s*$", re.I)
_DIGITS_RE = re.compile(r"\d+")
# PDF fonts often draw "fi", "fl"... as one ligature glyph; NFC keeps them, search wants letters.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb06": "st"})
_EDGE_LINES = 3  # lines at the top and bottom of a page where running headers and footers live
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-–•*▪◦]|\(?\d+[.)]|\(?[a-z][.)])\s")  # "- item", "2. step", "(a) case"
logging.getLogger("pdfminer").setLevel(logging.ERROR)  # pdfplumber's parser reports every repaired oddity


def read_pdf(raw: bytes, path: Path):
    """Title, parts and metadata of a PDF: parts in reading order, each with its page (a page without text is
    one empty part, for OCR to fill) and the heading path it sits under; every table its own part."""
    reader, pages = _open_checked(raw)
    laid_out = _layout_pages(raw, len(pages))
    if laid_out is None:  # pdfplumber cannot parse what pypdf could: the plain text path, as before layout
        return read_pdf_plain(raw, path)
    page_blocks, page_styles, failed = [], [], 0
    for number, (blocks, styles) in enumerate(laid_out, start=1):
        page_styles.append(styles)
        if not blocks:  # no words found by pdfplumber (or it failed on this page): pypdf may still read it
            text, broken = _pypdf_page_text(pages[number - 1])
            failed += broken
            text = text.translate(_LIGATURES)
            blocks = [Line([Word(t, 0.0, 0.0, float(i), float(i))]) for i, t in enumerate(text.split("\n")) if t.strip()]
        page_blocks.append(blocks)
    if failed == len(pages):
        raise Reject(f"is a corrupt PDF: text extraction failed on all {failed} page(s)")
    page_blocks = _without_running_lines(page_blocks)
    carry_headers(page_blocks)
    headings = find_headings([[b for b in blocks if isinstance(b, Line)] for blocks in page_blocks], page_styles)
    parts = _parts(page_blocks, headings)
    # Pages without a text layer (scans) are returned empty, with their page numbers: loaders/ocr.py reads them.
    tables = sum(1 for blocks in page_blocks for b in blocks if isinstance(b, TableBlock))
    empty = len(pages) - len({p.page for p in parts if p.text.strip()})
    metadata = {"pages": len(pages), "pages_without_text": empty, "tables": tables,
                "headings": sum(1 for h in headings.values() if h.text)}
    if failed:
        metadata["pages_failed"] = failed
    return _title(reader) or _first_title(page_blocks[0], headings), parts, metadata


def _first_title(blocks: list, headings: dict[int, Heading]) -> str:
    """Without a title in the metadata: the first page's first heading in the document's largest heading style."""
    for block in blocks:
        heading = headings.get(id(block))
        if heading is not None and heading.text:
            return heading.text if heading.level == 0 else ""
    return ""


def read_pdf_plain(raw: bytes, path: Path):
    """The text-only reader (pypdf, one part per page, no headings or tables): the fallback when pdfplumber
    cannot parse a file, and the baseline bench/bench_tables.py measures layout against."""
    reader, pages = _open_checked(raw)
    page_texts, failed = [], 0
    for page in pages:
        text, broken = _pypdf_page_text(page)
        page_texts.append(text)
        failed += broken
    if failed == len(pages):
        raise Reject(f"is a corrupt PDF: text extraction failed on all {failed} page(s)")
    page_texts = _strip_running_lines([clean_text(t.translate(_LIGATURES)) for t in page_texts])
    page_texts = [_unwrap_lines(t) for t in page_texts]
    parts = [Part(text, page=i + 1) for i, text in enumerate(page_texts)]
    empty = sum(1 for t in page_texts if not t.strip())
    metadata = {"pages": len(pages), "pages_without_text": empty}
    if failed:
        metadata["pages_failed"] = failed
    return _title(reader), parts, metadata


def _open_checked(raw: bytes):
    """(pypdf reader, pages) of a PDF that opens, decrypted when its user password is empty; else Reject."""
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
    return reader, pages


def _pypdf_page_text(page) -> tuple[str, int]:
    """(text, 1 if extraction failed else 0) of one pypdf page."""
    from pypdf.errors import FileNotDecryptedError, WrongPasswordError

    try:
        return page.extract_text() or "", 0
    except (FileNotDecryptedError, WrongPasswordError):
        raise Reject("is password-protected: remove the password and ingest it again") from None
    except Exception:  # one damaged page (bad font, broken stream) should not cost the others
        return "", 1


def _title(reader) -> str:
    try:
        title = (reader.metadata.title if reader.metadata else "") or ""
    except Exception:  # damaged info dictionary: the title falls back to the file name
        title = ""
    title = re.sub(r"^Microsoft Word - ", "", one_line(title))
    return "" if title.lower() in {"untitled", "title", "document"} else title


def _layout_pages(raw: bytes, page_count: int) -> list[tuple[list, Counter]] | None:
    """Per page, its lines and tables in reading order and its characters per style (empty where pdfplumber
    fails on the page); None when pdfplumber cannot open the file at all."""
    import pdfplumber

    try:
        document = pdfplumber.open(io.BytesIO(raw), password="")
    except Exception:  # pdfminer refuses what pypdf repaired (a damaged xref, an unusual encryption)
        return None
    result: list[tuple[list, Counter]] = []
    with document:
        try:
            pages = list(document.pages)
        except Exception:  # a broken page tree that pypdf walked differently
            return None
        if len(pages) != page_count:
            return None  # the two parsers disagree on the pages: page numbers would be wrong
        for page in pages:
            try:
                result.append(_page_blocks(page))
            except Exception:  # one damaged page (bad font, broken stream) should not cost the others
                result.append(([], Counter()))
            finally:
                page.close()  # pdfplumber caches every page's objects until then
    return result


def _page_blocks(page) -> tuple[list, Counter]:
    tables = ruled_tables(page)
    every_word = page_words(page)
    words = [w for w in every_word if not any(t.holds(w) for t in tables)]
    for word in words:
        word.text = word.text.translate(_LIGATURES)
    unruled, lines = aligned_tables(group_lines(words))
    tables += unruled
    return reading_order([*lines, *tables], find_gutter(lines)), style_counts(every_word)


def _without_running_lines(page_blocks: list[list]) -> list[list]:
    line_texts = [[clean_text(b.text) for b in blocks if isinstance(b, Line)] for blocks in page_blocks]
    flags = iter(flag for page in _running_line_flags(line_texts) for flag in page)
    return [[b for b in blocks if not (isinstance(b, Line) and next(flags))] for blocks in page_blocks]


def _parts(page_blocks: list[list], headings: dict[int, Heading]) -> list[Part]:
    """Parts in reading order: a heading starts a part (its first line), a table is a part of its own."""
    parts: list[Part] = []
    stack: list[Heading] = []  # the headings the text sits under, outermost first
    for number, blocks in enumerate(page_blocks, start=1):
        first = len(parts)
        full_from = _full_line_edge(blocks)
        previous_full = False  # the last line ran to the right margin without ending its sentence
        heading_line, lines = "", list[str]()  # the part being gathered: its heading (if it opens one), its lines
        for block in blocks:
            if isinstance(block, TableBlock):
                _add_part(parts, _part_text(heading_line, lines), number, stack)
                heading_line, lines, previous_full = "", [], False
                _add_part(parts, "\n".join(render_table(block.rows)), number, stack)
                continue
            heading = headings.get(id(block))
            if heading is None:
                if previous_full and lines and not _LIST_ITEM_RE.match(block.text):
                    lines[-1] += ("" if lines[-1].endswith("-") else " ") + block.text  # a wrapped line
                else:
                    lines.append(block.text)
                previous_full = block.x1 >= full_from and not block.text.endswith((".", "!", "?", ":", ";"))
                continue
            previous_full = False
            if heading.text:  # a wrapped heading's later lines are already in its text
                _add_part(parts, _part_text(heading_line, lines), number, stack)
                stack = [h for h in stack if h.level < heading.level] + [heading]
                heading_line, lines = heading.text, []
        _add_part(parts, _part_text(heading_line, lines), number, stack)
        if len(parts) == first:
            parts.append(Part("", page=number))
    return parts


def _full_line_edge(blocks: list) -> float:
    """The x from which a line counts as running to the right margin: within 12% of the text width of the
    page's rightmost text. A line that ends there and not with a sentence's end was wrapped by the layout."""
    lines = [b for b in blocks if isinstance(b, Line) and b.size > 0]
    if not lines:
        return float("inf")  # no positions (text from pypdf): the line-joining rule below decides
    left, right = min(ln.x0 for ln in lines), max(ln.x1 for ln in lines)
    return right - 0.12 * (right - left)


def _part_text(heading_line: str, lines: list[str]) -> str:
    body = _unwrap_lines("\n".join(lines))  # the heading stays a line of its own
    return "\n".join(t for t in (heading_line, body) if t)


def _add_part(parts: list[Part], text: str, page: int, stack: list[Heading]) -> None:
    if text:
        parts.append(Part(text, page=page, heading_path=tuple(h.text for h in stack)))


# A PDF line break inside a sentence is only where the line was full; the chunker reads a newline as
# a strong break, so wrapped lines are joined: after a non-final character and before a lowercase one.
_WRAPPED_HYPHEN_RE = re.compile(r"(?<=\w)-\n(?=[a-z])")
_WRAPPED_LINE_RE = re.compile(r"(?<=[^\s.!?:;])\n(?=[a-z(])")


def _unwrap_lines(text: str) -> str:
    return _WRAPPED_LINE_RE.sub(" ", _WRAPPED_HYPHEN_RE.sub("-", text))


def _strip_running_lines(pages: list[str]) -> list[str]:
    """Remove page numbers and lines repeated at the top or bottom of many pages (running headers/footers)."""
    lines_per_page = [p.split("\n") for p in pages]
    flags = _running_line_flags(lines_per_page)
    return ["\n".join(ln for ln, drop in zip(lines, page_flags) if not drop)
            for lines, page_flags in zip(lines_per_page, flags)]


def _running_line_flags(lines_per_page: list[list[str]]) -> list[list[bool]]:
    """Per page and line, True for a page number or a line repeated at the top or bottom of many pages."""
    repeated: set[str] = set()
    if len(lines_per_page) >= 2:
        counts: dict[str, int] = {}
        for lines in lines_per_page:
            edge = {_DIGITS_RE.sub("#", ln.strip()).lower() for ln in _edges(lines) if ln.strip()}
            for key in edge:
                counts[key] = counts.get(key, 0) + 1
        needed = max(2, -(-len(lines_per_page) * 3 // 5))  # on at least 60% of the pages
        repeated = {key for key, n in counts.items() if n >= needed}
    result = []
    for number, lines in enumerate(lines_per_page, start=1):
        n = len(lines)
        result.append([(i < _EDGE_LINES or i >= n - _EDGE_LINES) and _is_running_line(line, number, repeated)
                       for i, line in enumerate(lines)])
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

