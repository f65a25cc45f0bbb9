"""Images as documents: a PNG, JPEG or TIFF (each TIFF frame a page) read by OCR."""
from __future__ import annotations

import io
from pathlib import Path

from backend.ingest.loaders.common import Part, Reject, one_line
from backend.ingest.loaders.ocr import OcrFailed, TesseractMissing, check_mode, read_image_text
from backend.ingest.progress import report_step

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".tif": "image/tiff",
               ".tiff": "image/tiff"}
_LABELS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
# What PIL may find inside: a photo named .png still reads; a GIF or WebP is not a type ingest accepts.
_READABLE_FORMATS = {"PNG", "JPEG", "MPO", "TIFF"}  # MPO: a camera's JPEG with a second preview frame
MAX_PAGES = 500  # a multi-page TIFF beyond this is an archive, not a document: OCR would run for an hour


def read_image(raw: bytes, path: Path, ocr: str = "auto"):
    """(title, one part per page, metadata) of an image; Reject when it is broken, OCR is off or unavailable."""
    from PIL import Image, UnidentifiedImageError

    mode = check_mode(ocr)
    label = _LABELS.get(path.suffix.lower(), "image")
    try:
        image = Image.open(io.BytesIO(raw))
    except UnidentifiedImageError:
        raise Reject(f"is not a readable {label} image (unknown or damaged image data)") from None
    except Image.DecompressionBombError as exc:  # PIL's guard: over ~179 megapixels, no scanned page is that big
        raise Reject(f"is too large an image to read ({one_line(exc)})") from None
    if image.format not in _READABLE_FORMATS:
        raise Reject(f"is a {image.format or 'different'} image, not {label}: convert it to PNG, JPEG or TIFF")
    if mode == "off":
        raise Reject("is an image and OCR is off for this file, so it has no text to read (ingest it with OCR auto)")
    parts: list[Part] = []
    confidences: list[float] = []
    frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1  # an MPO's 2nd frame is its preview
    if frames > MAX_PAGES:
        raise Reject(f"has {frames} pages, over the {MAX_PAGES}-page limit for images")
    failed: list[str] = []
    try:
        for number in range(1, frames + 1):
            report_step("ocr", number - 1, frames)
            try:
                image.seek(number - 1)
                image.load()
            except (EOFError, OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt pixel data
                raise Reject(f"is a damaged {label} image: page {number} cannot be decoded ({one_line(exc)})") from None
            try:
                result = read_image_text(image)
            except OcrFailed as exc:
                failed.append(f"page {number}: {exc}")
                continue
            if result.text:
                parts.append(Part(result.text, page=number, ocr_confidence=result.confidence))
                if result.confidence is not None:
                    confidences.append(result.confidence)
        report_step("ocr", frames, frames)
    except TesseractMissing as exc:
        raise Reject(f"is an image and {exc}") from None
    except Image.DecompressionBombError as exc:
        raise Reject(f"is too large an image to read ({one_line(exc)})") from None
    if not parts:
        if failed:
            raise Reject(f"could not be read by OCR ({failed[0]})")
        raise Reject(f"has no text that OCR could read in {frames} page(s)")
    metadata: dict = {"pages": frames, "ocr_pages": [p.page for p in parts], "width": image.width,
                      "height": image.height}
    if confidences:
        metadata["ocr_confidence"] = round(sum(confidences) / len(confidences), 4)
    if failed:
        metadata["ocr_failed"] = failed
    return "", parts, metadata
