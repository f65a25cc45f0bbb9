"""Pieces every format reader shares: parts and their assembly, rejections, decoding, table rows as text."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Iterable, Iterator

from backend.ingest.clean import clean_text
from backend.models import Section


@dataclass
class Part:
    """A piece of a document before assembly: raw text and where it came from."""

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    ocr_confidence: float | None = None  # 0..1 when the text was read by OCR (see loaders/ocr.py)


class Reject(Exception):
    """Raised inside a format reader with the reason; load_file prefixes the file name."""


def assemble(parts: Iterable[Part]) -> tuple[str, list[Section]]:
    """Clean each part and join with blank lines, so section offsets point into the final text."""
    pieces: list[str] = []
    sections: list[Section] = []
    offset = 0
    for part in parts:
        cleaned = clean_text(part.text)
        if not cleaned:
            continue
        if pieces:
            offset += 2  # the "\n\n" joining this piece to the previous one
        start, end = offset, offset + len(cleaned)
        heading_path = tuple(clean_text(h) for h in part.heading_path)  # same Unicode form as the text
        last = sections[-1] if sections else None
        if (last is not None and last.page == part.page and last.heading_path == heading_path
                and last.ocr_confidence == part.ocr_confidence):
            sections[-1] = Section(last.start, end, last.page, last.heading_path, last.ocr_confidence)
        else:
            sections.append(Section(start, end, part.page, heading_path, part.ocr_confidence))
        pieces.append(cleaned)
        offset = end
    return "\n\n".join(pieces), sections


def human_size(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def one_line(value: object) -> str:
    return " ".join(str(value or "").split())


# --------------------------------------------------------------------------------------------
# text decoding


_NON_PRINTABLE_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")


def decode_text(raw: bytes, declared: str = "") -> str:
    """Bytes of a text file to str: UTF-8 (with or without BOM), UTF-16/32 with BOM, else the declared
    encoding (an HTML meta charset), else cp1252, and only if the result reads as text."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                raise Reject(f"is not valid {codec.upper()} text despite its byte-order mark") from None
            check_printable(text)
            return text
    if b"\x00" in raw:
        raise Reject("contains NUL bytes: binary content, not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Legacy Windows/Latin-1 text: cp1252 maps nearly every byte, so only a printable result counts.
        codec = _known_codec(declared) or "cp1252"
        text = raw.decode(codec, errors="replace")
    check_printable(text)
    return text


def _known_codec(name: str) -> str:
    import codecs

    try:
        return codecs.lookup(name).name if name else ""
    except LookupError:
        return ""


_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def declared_charset(raw: bytes) -> str:
    match = _META_CHARSET_RE.search(raw[:4096])
    return match.group(1).decode("ascii") if match else ""


def check_printable(text: str) -> None:
    sample = text[:1_000_000]
    bad = len(_NON_PRINTABLE_RE.findall(sample))
    if sample and bad / len(sample) > 0.02:
        raise Reject("is binary content, not text (undecodable or control bytes)")


# --------------------------------------------------------------------------------------------
# tables, shared by every format that has them


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return " ".join(str(value).split())


def header_names(header: list[str]) -> list[str]:
    return [cell or f"Column {i + 1}" for i, cell in enumerate(header)]


def render_row(header: list[str] | None, row: list[str]) -> str:
    """One table row as one line, "Header: value | Header: value"; empty cells are left out."""
    cells = []
    for i, value in enumerate(row):
        if not value:
            continue
        label = header[i] if header and i < len(header) else (f"Column {i + 1}" if header else "")
        cells.append(f"{label}: {value}" if label else value)
    return " | ".join(cells)


def render_table(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Lines of a table whose first non-empty row is the header; fully empty rows are skipped."""
    header: list[str] | None = None
    header_row: list[str] = []
    data_rows = 0
    for raw_row in rows:
        row = [cell_text(cell) for cell in raw_row]
        while row and not row[-1]:
            row.pop()
        if not row:
            continue
        # The first row with several cells labels the rest; one-cell rows before it (a title row,
        # or a one-column table) are content, not labels worth repeating.
        if header is None and len(row) > 1:
            header, header_row = header_names(row), row
            continue
        line = render_row(header, row)
        if line:
            data_rows += header is not None
            yield line
    if header is not None and not data_rows:  # a lone header row is still the table's content
        yield " | ".join(cell for cell in header_row if cell)


# --------------------------------------------------------------------------------------------
# PDF

