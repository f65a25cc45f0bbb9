"""Page images of cited PDFs: the page rendered by PDFium, the quote highlighted from the text layer, personal data covered."""
from __future__ import annotations

import ctypes
import io
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Sequence

from backend.context import RequestContext
from backend.corpus.labels import type_label
from backend.ingest.loaders.ocr import PDFIUM_LOCK
from backend.ingest.personal_data import original_withheld
from backend.models import GroundworkError, InputError
from backend.store import document_files, document_pii

PDF = "application/pdf"
PAGE_SCALE = 1.5  # 108 dpi: sharp at a citation card's width, about 0.1 s a page on this machine
CACHE_ENTRIES = 32  # a Chat page rerun redraws every card: the same few pages, over and over
HIGHLIGHT_FILL = (250, 204, 21, 90)  # translucent yellow over the quoted words
HIGHLIGHT_EDGE = (202, 138, 4, 230)
PII_FILL = (55, 65, 81, 255)  # opaque: personal data is masked on screen, as in the chunk text
PAD = 2  # pixels around a highlighted line, so the box does not clip descenders
MIN_RUN = 3  # words in a row before a partial match counts (one shared "the" is not the quote)
MAX_GAP = 8  # words a partial match may skip on either side (a redacted name, an address, a changed word)
_WORD = re.compile(r"\w+")
# PDFium is not thread-safe, and Streamlit runs each session in its own thread: one lock for every call into it.
_PDFIUM = PDFIUM_LOCK  # shared with OCR at ingest (backend/ingest/loaders/ocr.py), which renders pages too
_CACHE: OrderedDict[tuple, PageImage] = OrderedDict()
_CACHE_LOCK = threading.Lock()


class PageImageUnavailable(GroundworkError):
    """A PDF page that cannot be shown (its file is gone, it is deleted or unreadable); the message says why."""


@dataclass(frozen=True)
class PageImage:
    png: bytes
    width: int  # pixels
    height: int
    page: int  # 1-based
    pages: int
    boxes: tuple[tuple[int, int, int, int], ...]  # highlighted rectangles, (left, top, right, bottom) in pixels
    match: str  # "exact" (every word of the quote), "partial" (its longest run, across small gaps) or "none"
    masked: int  # personal data findings covered
    source: str  # "stored" (the bytes kept at ingest) or "file" (the source path, for PDFs ingested before that)


# --- the quote on the page ------------------------------------------------------------------------------
def words(text: str) -> list[tuple[str, int, int]]:
    """(normalised word, start, end) of each word; NFKC turns ligatures (ﬁ) into letters, case is folded."""
    return [(unicodedata.normalize("NFKC", m.group()).casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


def match_quote(page_text: str, quote: str) -> tuple[list[tuple[int, int]], str]:
    """Where the quote is in the page's text: character ranges and "exact", "partial" or "none".

    Words are compared, not characters, so line breaks, hyphenation and spacing of the text layer do not matter.
    A quote that is not on the page word for word (redacted, rewritten, cut) highlights its longest run of words,
    joined with the runs next to it across gaps of at most MAX_GAP words on both sides."""
    page_words, quote_words = words(page_text), [w for w, _, _ in words(quote)]
    if not page_words or not quote_words:
        return [], "none"
    tokens = [w for w, _, _ in page_words]
    n = len(quote_words)
    for i in range(len(tokens) - n + 1):
        if tokens[i:i + n] == quote_words:
            return [(page_words[i][1], page_words[i + n - 1][2])], "exact"
    matcher = SequenceMatcher(None, tokens, quote_words, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return [], "none"
    best = max(range(len(blocks)), key=lambda k: (blocks[k].size, -k))
    if blocks[best].size < min(MIN_RUN, n):
        return [], "none"
    first = last = best
    while first > 0 and _joins(blocks[first - 1], blocks[first], n):
        first -= 1
    while last + 1 < len(blocks) and _joins(blocks[last + 1], blocks[last], n):
        last += 1
    start_word, end_word = blocks[first].a, blocks[last].a + blocks[last].size - 1
    return [(page_words[start_word][1], page_words[end_word][2])], "partial"


def _joins(block, neighbour, quote_length: int) -> bool:
    """Does `block` extend the match next to it: within MAX_GAP words of it on the page and in the quote, and
    more than one stray word (unless it is where the quote starts or ends)?"""
    left, right = (block, neighbour) if block.a < neighbour.a else (neighbour, block)
    close = right.a - (left.a + left.size) <= MAX_GAP and right.b - (left.b + left.size) <= MAX_GAP
    return close and (block.size > 1 or block.b == 0 or block.b + block.size == quote_length)


# --- the document's bytes, read as the caller may ---------------------------------------------------------
def _pdf_bytes(platform, row: dict) -> tuple[bytes, str]:
    with platform.store.cursor() as cur:
        if document_pii.stored_redacted(cur, row["id"]):  # nor its source file: that holds the personal data too
            raise PageImageUnavailable(f"document {row['id']}: {original_withheld('PDF')}")
        stored = document_files.file_content(cur, row["id"], row["version"])
    if stored is not None:
        return stored, "stored"
    source = Path(row["source"])
    if source.is_file():
        try:
            return source.read_bytes(), "file"
        except OSError as exc:
            raise PageImageUnavailable(f"its file {source} cannot be read ({exc.strerror or exc})") from None
    raise PageImageUnavailable(f"document {row['id']} was ingested before PDF files were kept, and its source file "
                               f"{row['source']} no longer exists (ingest the PDF again to see its pages)")


def render_page_image(platform, document_id: int, page: int, quote: str | Sequence[str] = "",
                      ctx: RequestContext | None = None, mask_pii: bool = True) -> PageImage:
    """Page `page` (1-based) of a PDF document, as PNG with `quote` (or each of several) highlighted and personal
    data covered (`mask_pii`, the configured entity types); read as `ctx` may: NotFound for any other caller.

    InputError for a document that is not a PDF or a page it does not have; PageImageUnavailable when the page
    cannot be shown. Rendered pages are kept in a small in-process LRU cache, keyed by the document version."""
    row = platform.corpus.require_document(document_id, ctx)  # authorised first, cached or not
    if row["mime_type"] != PDF:
        raise InputError(f"document {document_id} is {type_label(row['mime_type'])}, not a PDF: it has no pages "
                         "to show as images", field="document_id")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InputError(f"page must be a page number from 1 (got {page!r})", field="page")
    if row["status"] == "deleted":
        raise PageImageUnavailable(f"document {document_id} was deleted")
    settings = platform.settings
    entities = settings.pii_entities if mask_pii else ""
    quotes = [quote] if isinstance(quote, str) else list(quote)
    key = (str(platform.store.path), document_id, row["version"], row["content_hash"], page,
           tuple(" ".join(w for w, _, _ in words(q)) for q in quotes if q), entities, settings.pii_score_threshold)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    content, source = _pdf_bytes(platform, row)
    redactor = None
    if entities:
        from backend.pii import get_redactor  # Presidio loads on first use, not on import

        redactor = get_redactor(settings)
    image = _render(content, page, [q for q in quotes if q], redactor, source, document_id)
    with _CACHE_LOCK:
        _CACHE[key] = image
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    return image


def page_image(platform, document_id: int, page: int, quote: str | Sequence[str] = "",
               ctx: RequestContext | None = None) -> bytes:
    """The PNG bytes of render_page_image: the cited page with the quoted span highlighted."""
    return render_page_image(platform, document_id, page, quote, ctx).png


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


# --- PDFium and Pillow ------------------------------------------------------------------------------------
def _render(content: bytes, page_number: int, quotes: list[str], redactor, source: str, document_id: int) -> PageImage:
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(content)
        except pdfium.PdfiumError as exc:
            raise PageImageUnavailable(f"document {document_id}'s PDF cannot be opened ({exc})") from None
        try:
            pages = len(pdf)
            if page_number > pages:
                raise InputError(f"document {document_id} has {pages} page{'s' if pages != 1 else ''}: there is no "
                                 f"page {page_number}", field="page")
            page = pdf[page_number - 1]
            bitmap = page.render(scale=PAGE_SCALE)
            picture = bitmap.to_pil().convert("RGBA")
            text_page = page.get_textpage()
            text = "".join(chr(pdfium.raw.FPDFText_GetUnicode(text_page, i)) for i in range(text_page.count_chars()))
            matches = [match_quote(text, q) for q in quotes]
            ranges = [r for found, _ in matches for r in found]
            kinds = {kind for _, kind in matches}
            # "exact" only when every quote is; "none" with no quote at all (the page alone)
            match = "none" if not kinds else kinds.pop() if len(kinds) == 1 else "partial"
            boxes = [box for start, end in ranges for box in _boxes(page, text_page, start, end, picture.size)]
            findings = [(f.start, f.end) for f in redactor.analyze(text)] if redactor is not None else []
            masks = [box for start, end in findings for box in _boxes(page, text_page, start, end, picture.size)]
        finally:
            pdf.close()
    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for box in boxes:
        draw.rectangle(box, fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_EDGE, width=2)
    for box in masks:  # after the highlight: a quote's redacted words stay covered
        draw.rectangle(box, fill=PII_FILL)
    out = io.BytesIO()
    Image.alpha_composite(picture, overlay).convert("RGB").save(out, format="PNG", optimize=False)
    return PageImage(out.getvalue(), picture.size[0], picture.size[1], page_number, pages, tuple(boxes), match,
                     len(findings), source)


def _boxes(page, text_page, start: int, end: int, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Pixel rectangles (one per line segment of the text layer) of characters start..end."""
    import pypdfium2 as pdfium

    out = []
    for i in range(text_page.count_rects(start, end - start)):
        left, bottom, right, top = text_page.get_rect(i)
        x0, y0 = _to_device(pdfium, page, left, top, size)
        x1, y1 = _to_device(pdfium, page, right, bottom, size)
        box = (max(0, min(x0, x1) - PAD), max(0, min(y0, y1) - PAD),
               min(size[0] - 1, max(x0, x1) + PAD), min(size[1] - 1, max(y0, y1) + PAD))
        if box[2] > box[0] and box[3] > box[1]:
            out.append(box)
    return out


def _to_device(pdfium, page, x: float, y: float, size: tuple[int, int]) -> tuple[int, int]:
    # PDFium's own page-to-pixel mapping: it accounts for the crop box and the page's rotation.
    dx, dy = ctypes.c_int(), ctypes.c_int()
    pdfium.raw.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, ctypes.c_double(x), ctypes.c_double(y), dx, dy)
    return dx.value, dy.value
