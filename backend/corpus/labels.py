"""Names the corpus browser shows for stored values: file types, and how many word pieces a chunk may hold."""
from __future__ import annotations

from backend.text.tokens import MODEL_WINDOW, SPECIAL_TOKENS

MIME_LABELS = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "text/html": "HTML",
    "text/markdown": "Markdown",
    "text/plain": "Text",
    "text/csv": "CSV",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/tiff": "TIFF image",
}
TEXT_PIECES = MODEL_WINDOW - SPECIAL_TOKENS  # word pieces of text a chunk may hold: the window minus [CLS]/[SEP]


def type_label(mime_type: str) -> str:
    return MIME_LABELS.get(mime_type, mime_type)
