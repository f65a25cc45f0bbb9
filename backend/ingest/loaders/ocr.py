"""OCR of scanned pages: PDFium renders a PDF page, Tesseract reads it (or an image) into lines and a mean confidence."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from backend.ingest.clean import clean_text
from backend.ingest.loaders.common import Part, Reject, one_line
from backend.ingest.progress import report_step
from backend.models import InputError

if TYPE_CHECKING:
    from PIL import Image

OcrMode = Literal["auto", "always", "off"]
OCR_MODES: tuple[OcrMode, ...] = ("auto", "always", "off")
INSTALL_HINT = "run bash scripts/install-tesseract.sh"
# A page whose scan resolution is known is rendered at it (see scan_dpi); other pages (vector outlines) at 300 dpi,
# the resolution Tesseract's models are trained for. Scans below 200 dpi are upscaled: Tesseract misreads letters
# under ~20 pixels high.
RENDER_DPI, MIN_DPI, MAX_DPI = 300.0, 200.0, 400.0
# A page of body text holds ~35-45 characters per square inch (A4 at 11 pt: ~3,500 characters in 97 in²). A scan
# that only carries a stamped page number, a Bates number or a scanner's header line has under 1. Below 2 per
# square inch (~190 characters on A4) a page is read by OCR too, and its OCR text replaces the thin text layer only
# when it is over twice as long, so a short born-digital last page ("Yours sincerely, ...") keeps its exact text.
SPARSE_CHARS_PER_SQUARE_INCH = 2.0
# PDFium is not thread-safe and the app renders cited pages in other threads: every PDFium call takes this lock
# (backend/corpus/page_images.py shares it).
PDFIUM_LOCK = threading.Lock()


class TesseractMissing(Exception):
    """Tesseract (or its English data, or pytesseract) is not installed; the message says which."""


class OcrFailed(Exception):
    """Tesseract failed on one page (a crash, an image it refuses); the other pages go on."""


@dataclass(frozen=True)
class OcrText:
    """What Tesseract read on one page: the text with its lines, and the mean word confidence 0..1 (None: no words)."""

    text: str
    confidence: float | None


def check_mode(mode: str) -> OcrMode:
    """The mode as given (an API field or a CLI option), or InputError naming the modes there are."""
    if mode not in OCR_MODES:
        raise InputError(f"ocr must be one of {', '.join(OCR_MODES)}, got {mode!r}", field="ocr")
    return mode


def read_image_text(image: Image.Image) -> OcrText:
    """OCR one page image (any PIL mode) with Tesseract's English model."""
    try:
        import pytesseract
    except ImportError:
        raise TesseractMissing("pytesseract is not installed: run pip install -r requirements.txt") from None
    pytesseract.pytesseract.environ = _TESSERACT_ENVIRONMENT  # the environment it starts tesseract with
    try:
        data = pytesseract.image_to_data(_greyscale(image), lang="eng", output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractNotFoundError:
        raise TesseractMissing(f"Tesseract is not installed: {INSTALL_HINT}") from None
    except pytesseract.TesseractError as exc:
        if "Failed loading language" in str(exc):
            raise TesseractMissing(f"Tesseract has no English data (tesseract-ocr-eng): {INSTALL_HINT}") from None
        raise OcrFailed(" ".join(str(exc.message or exc).split())[:200]) from None
    return _text_from_data(data)


class _OneThreadEnvironment(Mapping[str, str]):
    """os.environ as it is at each call, with OMP_THREAD_LIMIT=1 unless it is set: Tesseract's OpenMP threads on the
    2 shared cores read half as many pages a second as one thread does (bench/bench_ocr.py: 0.6 against 1.3 p/s)."""

    def __getitem__(self, key: str) -> str:
        if key == "OMP_THREAD_LIMIT" and key not in os.environ:
            return "1"
        return os.environ[key]

    def __iter__(self) -> Iterator[str]:
        yield from os.environ
        if "OMP_THREAD_LIMIT" not in os.environ:
            yield "OMP_THREAD_LIMIT"

    def __len__(self) -> int:
        return len(os.environ) + ("OMP_THREAD_LIMIT" not in os.environ)


_TESSERACT_ENVIRONMENT = _OneThreadEnvironment()


def _greyscale(image: Image.Image) -> Image.Image:
    """Tesseract binarises internally; grey is what it reads best, and transparency becomes white paper."""
    from PIL import Image as PILImage

    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = PILImage.alpha_composite(paper, rgba)
    if image.mode.startswith("I;16") or image.mode in {"I", "F"}:
        image = image.point(lambda value: value / 256).convert("L")  # 16-bit scans: 0..65535 down to 0..255
    return image if image.mode == "L" else image.convert("L")


def _text_from_data(data: dict) -> OcrText:
    """Words of image_to_data joined into Tesseract's lines, a blank line between its paragraphs."""
    lines: list[list[str]] = []
    keys: list[tuple[int, int, int]] = []
    confidences: list[float] = []
    for word, conf, block, paragraph, line in zip(data["text"], data["conf"], data["block_num"], data["par_num"],
                                                  data["line_num"]):
        word = str(word).strip()
        confidence = float(conf)
        if not word or confidence < 0:  # -1: a block, paragraph or line box, not a word
            continue
        key = (int(block), int(paragraph), int(line))
        if not keys or keys[-1] != key:
            keys.append(key)
            lines.append([])
        lines[-1].append(word)
        confidences.append(confidence)
    out: list[str] = []
    for i, (key, words) in enumerate(zip(keys, lines)):
        if i and key[:2] != keys[i - 1][:2]:
            out.append("")
        out.append(" ".join(words))
    mean = round(sum(confidences) / len(confidences) / 100.0, 4) if confidences else None
    return OcrText(clean_text("\n".join(out)), mean)


def ocr_pdf_pages(raw: bytes, parts: list[Part], metadata: dict, mode: str) -> tuple[list[Part], dict]:
    """Fill the pages of a read PDF that need OCR (see SPARSE_CHARS_PER_SQUARE_INCH; every page with `always`).

    `parts` are read_pdf's, each with its 1-based page. Raises Reject when nothing readable is left: the file is
    scanned and OCR is off, Tesseract is missing, or OCR found no text either. With some text pages, those go on
    and metadata["ocr_notice"] says what was not read."""
    mode = check_mode(mode)
    chars = _chars_per_page(parts)
    has_text = any(chars.values())
    if mode == "off":
        if not has_text:
            raise Reject(f"has no extractable text in {_page_count(metadata, chars)} page(s): it looks scanned, and OCR "
                         "is off for this file (ingest it with OCR auto to read it)")
        empty = [p for p in range(1, _page_count(metadata, chars) + 1) if not chars.get(p)]
        if empty:
            metadata["ocr_notice"] = f"OCR is off: {_pages_phrase(empty)} no text layer and {_not_read(empty)}"
        return parts, metadata
    try:
        document = ScannedPdf(raw)
    except Reject:
        if not has_text:
            raise
        return parts, metadata  # PDFium cannot open what pypdf could: keep the text layer as it is
    with document:
        return _fill_pages(document, parts, metadata, mode, chars)


def _fill_pages(document: ScannedPdf, parts: list[Part], metadata: dict, mode: OcrMode,
                chars: dict[int, int]) -> tuple[list[Part], dict]:
    has_text = any(chars.values())
    sizes = document.sizes()
    wanted = [page for page, (width, height) in enumerate(sizes, start=1)
              if mode == "always" or chars.get(page, 0) < SPARSE_CHARS_PER_SQUARE_INCH * width * height / 72 / 72]
    if not wanted:
        return parts, metadata
    read: dict[int, OcrText] = {}
    failed: list[str] = []
    try:
        for done, page in enumerate(wanted):
            report_step("ocr", done, len(wanted))
            try:
                read[page] = read_image_text(document.render(page))
            except OcrFailed as exc:
                failed.append(f"page {page}: {exc}")
        report_step("ocr", len(wanted), len(wanted))
    except TesseractMissing as exc:
        message = _missing_message([p for p in wanted if p not in read], chars, mode, str(exc))
        if not has_text and not any(r.text for r in read.values()):
            raise Reject(message) from None
        metadata["ocr_notice"] = message
    if failed:
        metadata["ocr_failed"] = failed
    # In auto mode OCR replaces a thin text layer only when it read more than twice as much (a scan under a stamped
    # page number); a short born-digital page reads back about the same and keeps its exact text.
    taken = {page: result for page, result in read.items()
             if result.text and (mode == "always" or _letters(result.text) > 2 * chars.get(page, 0))}
    if not has_text and not taken:
        if "ocr_notice" in metadata:
            raise Reject(metadata["ocr_notice"])
        if failed:
            raise Reject(f"has no text layer, and OCR failed on {failed[0]}")
        raise Reject(f"has no extractable text in {len(sizes)} page(s): it looks scanned, and OCR found no text on "
                     "it either")
    confidences = [r.confidence for r in taken.values() if r.confidence is not None]
    metadata["ocr_pages"] = sorted(taken)
    if confidences:
        metadata["ocr_confidence"] = round(sum(confidences) / len(confidences), 4)
    metadata["pages_without_text"] = sum(1 for page in range(1, len(sizes) + 1)
                                         if page not in taken and not chars.get(page))
    return _replace_pages(parts, taken), metadata


class ScannedPdf:
    """A PDF open in PDFium for rendering pages; every PDFium call holds PDFIUM_LOCK, Tesseract runs outside it."""

    def __init__(self, raw: bytes):
        import pypdfium2

        with PDFIUM_LOCK:
            try:
                self._document = pypdfium2.PdfDocument(raw)
            except pypdfium2.PdfiumError as exc:
                raise Reject(f"has pages PDFium cannot open for OCR ({one_line(exc)})") from None

    def __enter__(self) -> ScannedPdf:
        return self

    def __exit__(self, *exc_info) -> None:
        with PDFIUM_LOCK:
            self._document.close()

    def sizes(self) -> list[tuple[float, float]]:
        """(width, height) in points of every page."""
        with PDFIUM_LOCK:
            return [self._document.get_page_size(i) for i in range(len(self._document))]

    def render(self, page: int, dpi: float | None = None) -> Image.Image:
        """Page `page` (1-based) in grey at `dpi`, by default at the resolution of the scan on it (see scan_dpi)."""
        with PDFIUM_LOCK:
            pdf_page = self._document[page - 1]
            try:
                scale = (dpi or scan_dpi(pdf_page)) / 72
                return pdf_page.render(scale=scale, grayscale=True).to_pil()
            finally:
                pdf_page.close()


def scan_dpi(pdf_page) -> float:
    """The resolution of the image covering most of the page, kept within MIN_DPI..MAX_DPI; RENDER_DPI without one.

    Rendering a 200 dpi scan at 300 dpi resamples its speckle and strokes, and Tesseract reads that worse
    (bench/bench_ocr.py: CER 0.0 at the scan's own 200 dpi, 0.1 at 300)."""
    import pypdfium2.raw as pdfium_c

    width_pt, height_pt = pdf_page.get_size()
    best, best_area = 0.0, 0.25 * width_pt * height_pt  # a logo or a signature is not the scan
    for image in pdf_page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        left, bottom, right, top = image.get_bounds()
        area = (right - left) * (top - bottom)
        pixels_wide, pixels_high = image.get_px_size()
        if area >= best_area and right > left and top > bottom:
            best_area = area
            best = max(pixels_wide * 72 / (right - left), pixels_high * 72 / (top - bottom))
    return min(max(best, MIN_DPI), MAX_DPI) if best else RENDER_DPI


def _letters(text: str) -> int:
    return sum(1 for char in text if not char.isspace())


def _chars_per_page(parts: Sequence[Part]) -> dict[int, int]:
    chars: dict[int, int] = {}
    for part in parts:
        if part.page is not None:
            chars[part.page] = chars.get(part.page, 0) + _letters(part.text)
    return chars


def _page_count(metadata: dict, chars: dict[int, int]) -> int:
    return int(metadata.get("pages") or max(chars, default=0))


def _replace_pages(parts: list[Part], taken: dict[int, OcrText]) -> list[Part]:
    """The parts in page order with every OCRed page's parts replaced by its one OCR part."""
    ocr_parts = {page: Part(result.text, page=page, ocr_confidence=result.confidence) for page, result in taken.items()}
    pending = sorted(ocr_parts)
    out: list[Part] = []
    for part in parts:
        while pending and part.page is not None and pending[0] < part.page:
            out.append(ocr_parts[pending.pop(0)])
        if part.page in ocr_parts:
            if part.page in pending:
                pending.remove(part.page)
                out.append(ocr_parts[part.page])
            continue
        out.append(part)
    out.extend(ocr_parts[page] for page in pending)
    return out


def _missing_message(unread: list[int], chars: dict[int, int], mode: OcrMode, missing: str) -> str:
    """"page 3 has no text layer and Tesseract is not installed: run ..." (the pages OCR could not read)."""
    empty = [p for p in unread if not chars.get(p)]
    if empty:
        return f"{_pages_phrase(empty)} no text layer and {missing}"
    if mode == "always":
        return f"OCR was asked for every page and {missing}"
    return f"{_pages_phrase(unread)} too little text for {'its' if len(unread) == 1 else 'their'} size and {missing}"


def _pages_phrase(pages: Sequence[int]) -> str:
    """"page 3 has", "pages 1-4 have", "pages 2, 5 and 7 have"."""
    if len(pages) == 1:
        return f"page {pages[0]} has"
    if list(pages) == list(range(pages[0], pages[-1] + 1)):
        return f"pages {pages[0]}-{pages[-1]} have"
    return f"pages {', '.join(map(str, pages[:-1]))} and {pages[-1]} have"


def _not_read(pages: Sequence[int]) -> str:
    return "was not read" if len(pages) == 1 else "were not read"
