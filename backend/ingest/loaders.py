"""Loaders: turn a PDF, DOCX, HTML, Markdown, text, CSV or XLSX file into cleaned text with located sections."""
from __future__ import annotations

import csv
import io
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Iterable, Iterator

from backend.ingest.clean import clean_text
from backend.models import InputError, LoadedDocument, Section

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
}

# pypdf and openpyxl report recoverable oddities (damaged xref, missing default style) through logging
# and warnings; the loader turns what matters into InputError. Filters are set once here because
# warnings.catch_warnings() per call is not thread-safe.
logging.getLogger("pypdf").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module=r"(pypdf|openpyxl|docx|bs4)(\..*)?$")


@dataclass
class _Part:
    """A piece of a document before assembly: raw text and where it came from."""

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()


class _Reject(Exception):
    """Raised inside a format reader with the reason; load_file prefixes the file name."""


# --------------------------------------------------------------------------------------------
# entry point


def load_file(path: Path, max_bytes: int) -> LoadedDocument:
    """Read one file into a LoadedDocument; every bad input raises InputError naming the file."""
    path = Path(path)
    name = path.name or str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file ({path})") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise InputError(f"{name}: is a directory, not a file")
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        kind = f"'{ext}'" if ext else "(no extension)"
        raise InputError(f"{name}: unsupported file type {kind} (supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    if stat.st_size == 0:
        raise InputError(f"{name}: file is empty")
    if stat.st_size > max_bytes:
        raise InputError(f"{name}: file is {_human_size(stat.st_size)}, over the {_human_size(max_bytes)} limit")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    reader = _READERS[ext]
    try:
        title, parts, metadata = reader(raw, path)
    except _Reject as exc:
        raise InputError(f"{name}: {exc}") from None
    except InputError:
        raise
    except Exception as exc:  # a parser bug or damage no reader anticipated: still one clear line
        raise InputError(f"{name}: could not be read as {ext[1:].upper()} ({type(exc).__name__}: {_one_line(exc)})") from None
    text, sections = _assemble(parts)
    if not text:
        raise InputError(f"{name}: has no text content")
    return LoadedDocument(
        source=str(path),
        title=_one_line(clean_text(title)) or path.stem,
        mime_type=SUPPORTED_EXTENSIONS[ext],
        text=text,
        sections=sections,
        metadata=metadata,
    )


def _assemble(parts: Iterable[_Part]) -> tuple[str, list[Section]]:
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
        if last is not None and last.page == part.page and last.heading_path == heading_path:
            sections[-1] = Section(last.start, end, last.page, last.heading_path)
        else:
            sections.append(Section(start, end, part.page, heading_path))
        pieces.append(cleaned)
        offset = end
    return "\n\n".join(pieces), sections


def _human_size(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _one_line(value: object) -> str:
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
                raise _Reject(f"is not valid {codec.upper()} text despite its byte-order mark") from None
            _check_printable(text)
            return text
    if b"\x00" in raw:
        raise _Reject("contains NUL bytes: binary content, not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Legacy Windows/Latin-1 text: cp1252 maps nearly every byte, so only a printable result counts.
        codec = _known_codec(declared) or "cp1252"
        text = raw.decode(codec, errors="replace")
    _check_printable(text)
    return text


def _known_codec(name: str) -> str:
    import codecs

    try:
        return codecs.lookup(name).name if name else ""
    except LookupError:
        return ""


_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _declared_charset(raw: bytes) -> str:
    match = _META_CHARSET_RE.search(raw[:4096])
    return match.group(1).decode("ascii") if match else ""


def _check_printable(text: str) -> None:
    sample = text[:1_000_000]
    bad = len(_NON_PRINTABLE_RE.findall(sample))
    if sample and bad / len(sample) > 0.02:
        raise _Reject("is binary content, not text (undecodable or control bytes)")


# --------------------------------------------------------------------------------------------
# tables, shared by every format that has them


def _cell_text(value: object) -> str:
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


def _header_names(header: list[str]) -> list[str]:
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
        row = [_cell_text(cell) for cell in raw_row]
        while row and not row[-1]:
            row.pop()
        if not row:
            continue
        # The first row with several cells labels the rest; one-cell rows before it (a title row,
        # or a one-column table) are content, not labels worth repeating.
        if header is None and len(row) > 1:
            header, header_row = _header_names(row), row
            continue
        line = render_row(header, row)
        if line:
            data_rows += header is not None
            yield line
    if header is not None and not data_rows:  # a lone header row is still the table's content
        yield " | ".join(cell for cell in header_row if cell)


# --------------------------------------------------------------------------------------------
# PDF

_PAGE_NUMBER_RE = re.compile(r"^\s*(?:page\s+)?\d+\s*(?:(?:of|/)\s*\d+)?\s*$|^\s*[-–—]\s*\d+\s*[-–—]\s*$", re.I)
_DIGITS_RE = re.compile(r"\d+")
# PDF fonts often draw "fi", "fl"... as one ligature glyph; NFC keeps them, search wants letters.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb06": "st"})
_EDGE_LINES = 3  # lines at the top and bottom of a page where running headers and footers live


def _read_pdf(raw: bytes, path: Path):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError, WrongPasswordError

    if b"%PDF-" not in raw[:1024]:
        raise _Reject("is not a PDF (no %PDF- header): binary or mislabelled content")
    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
        if reader.is_encrypted:
            # Many PDFs are encrypted with an empty user password (only printing/copying restricted).
            try:
                opened = reader.decrypt("")
            except (WrongPasswordError, FileNotDecryptedError, DependencyError, NotImplementedError):
                opened = 0
            if not opened:
                raise _Reject("is password-protected: remove the password and ingest it again")
        pages = list(reader.pages)
    except _Reject:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        raise _Reject(f"is a corrupt or unreadable PDF ({_one_line(exc) or type(exc).__name__})") from None
    if not pages:
        raise _Reject("is a corrupt PDF: no pages found")
    page_texts, failed = [], 0
    for page in pages:
        try:
            page_texts.append(page.extract_text() or "")
        except (FileNotDecryptedError, WrongPasswordError):
            raise _Reject("is password-protected: remove the password and ingest it again") from None
        except Exception:  # one damaged page (bad font, broken stream) should not cost the others
            page_texts.append("")
            failed += 1
    if failed == len(pages):
        raise _Reject(f"is a corrupt PDF: text extraction failed on all {failed} page(s)")
    title = ""
    try:
        title = (reader.metadata.title if reader.metadata else "") or ""
    except Exception:  # damaged info dictionary: the title falls back to the file name
        title = ""
    page_texts = _strip_running_lines([clean_text(t.translate(_LIGATURES)) for t in page_texts])
    page_texts = [_unwrap_lines(t) for t in page_texts]
    if not any(t.strip() for t in page_texts):
        raise _Reject(f"has no extractable text in {len(pages)} page(s): it looks scanned; run OCR first")
    title = re.sub(r"^Microsoft Word - ", "", _one_line(title))
    if title.lower() in {"untitled", "title", "document"}:
        title = ""
    parts = [_Part(text, page=i + 1) for i, text in enumerate(page_texts)]
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
        return int(_DIGITS_RE.search(stripped).group()) == page_number
    return False


# --------------------------------------------------------------------------------------------
# DOCX

_HEADING_STYLE_RE = re.compile(r"^heading\s*(\d)$", re.I)


def _read_docx(raw: bytes, path: Path):
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise _Reject("is not a valid DOCX file (not a ZIP package): corrupt or mislabelled")
    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as exc:  # PackageNotFoundError, KeyError for a missing part, lxml errors
        raise _Reject(f"is not a valid DOCX file ({_one_line(exc) or type(exc).__name__})") from None
    title = _one_line(document.core_properties.title)
    first_heading = ""
    headings: list[tuple[int, str]] = []
    parts: list[_Part] = []
    paragraphs = tables = 0
    last_was_item = False
    for block in document.iter_inner_content():
        path_now = tuple(text for _, text in headings)
        if isinstance(block, Paragraph):
            text = block.text
            if not text.strip():
                continue
            paragraphs += 1
            style = (block.style.name if block.style is not None else "") or ""
            match = _HEADING_STYLE_RE.match(style)
            if match or style.lower() == "title":
                level = int(match.group(1)) if match else 0
                heading = _one_line(text)
                if level <= 1 and not first_heading:
                    first_heading = heading
                headings = [(lv, h) for lv, h in headings if lv < level] + [(level, heading)]
                parts.append(_Part(heading, heading_path=tuple(h for _, h in headings)))
            elif style.lower().startswith("list"):
                # List items one per line, as in HTML and Markdown, not one paragraph each.
                item = "- " + _one_line(text)
                if parts and parts[-1].heading_path == path_now and last_was_item:
                    parts[-1] = _Part(parts[-1].text + "\n" + item, heading_path=path_now)
                else:
                    parts.append(_Part(item, heading_path=path_now))
                last_was_item = True
                continue
            else:
                parts.append(_Part(text, heading_path=path_now))
            last_was_item = False
        elif isinstance(block, Table):
            tables += 1
            lines = list(render_table(_docx_rows(block)))
            if lines:
                parts.append(_Part("\n".join(lines), heading_path=path_now))
            last_was_item = False
    return title or first_heading, parts, {"paragraphs": paragraphs, "tables": tables}


def _docx_rows(table) -> Iterator[list[str]]:
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A horizontally merged cell appears once per grid column: keep it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        yield cells


# --------------------------------------------------------------------------------------------
# HTML (and Markdown, rendered to HTML first)

_DROP_TAGS = ("script", "style", "nav", "aside", "form", "noscript", "template", "svg", "iframe", "canvas", "button", "select")
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "blockquote", "dl", "dt", "dd", "figure", "figcaption",
    "address", "hr", "body", "html", "header", "footer", "details", "summary", "center", "caption",
}
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _HtmlWalker:
    """Walks a parsed HTML tree into parts: one per heading section, paragraphs and lines in order."""

    def __init__(self) -> None:
        self.headings: list[tuple[int, str]] = []
        self.first_h1 = ""
        self.parts: list[_Part] = []
        self.blocks: list[str] = []  # finished paragraphs of the current section
        self.inline: list[str] = []  # text of the paragraph being read

    def heading_path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings)

    def flush_inline(self) -> None:
        text = "".join(self.inline)
        self.inline = []
        lines = [" ".join(line.split()) for line in text.split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(text)

    def flush_section(self) -> None:
        self.flush_inline()
        if self.blocks:
            self.parts.append(_Part("\n\n".join(self.blocks), heading_path=self.heading_path()))
        self.blocks = []

    def walk(self, node) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

        for child in node.children:
            if isinstance(child, NavigableString):
                if isinstance(child, (Comment, Doctype, Declaration, ProcessingInstruction, CData)):
                    continue
                self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            tag = child.name.lower() if child.name else ""
            if tag in _HEADING_TAGS:
                self.flush_section()
                level = _HEADING_TAGS[tag]
                text = _one_line(child.get_text(" "))
                if not text:
                    continue
                if level == 1 and not self.first_h1:
                    self.first_h1 = text
                self.headings = [(lv, h) for lv, h in self.headings if lv < level] + [(level, text)]
                self.blocks.append(text)
            elif tag == "table":
                self.flush_inline()
                lines = list(render_table(_html_rows(child)))
                if lines:
                    self.blocks.append("\n".join(lines))
            elif tag in ("ul", "ol"):
                self.flush_inline()
                items = self._list_items(child)
                if items:
                    self.blocks.append("\n".join(items))
            elif tag == "pre":
                self.flush_inline()
                text = child.get_text()
                if text.strip():
                    self.blocks.append(text.strip("\n"))
            elif tag == "br":
                self.inline.append("\n")
            elif tag in ("li", "tr", "td", "th"):  # stray list items or cells outside their container
                self.flush_inline()
                self.walk(child)
                self.flush_inline()
            elif tag in _BLOCK_TAGS:
                self.flush_inline()
                self.walk(child)
                self.flush_inline()
            else:
                self.walk(child)

    def _list_items(self, list_tag, depth: int = 0) -> list[str]:
        """Each item on its own line ("- text"), nested lists indented under their item."""
        from bs4 import Tag

        lines: list[str] = []
        for item in list_tag.find_all("li", recursive=False):
            own, nested = [], []
            for child in item.children:
                if isinstance(child, Tag) and child.name in ("ul", "ol"):
                    nested.extend(self._list_items(child, depth + 1))
                elif isinstance(child, Tag):
                    own.append(child.get_text(" "))
                else:
                    own.append(str(child))
            text = _one_line(" ".join(own))
            if text:
                lines.append("  " * depth + "- " + text)
            lines.extend(nested)
        return lines


def _html_rows(table) -> Iterator[list[str]]:
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:  # rows of a nested table belong to that table
            continue
        cells = []
        for cell in row.find_all(["td", "th"], recursive=False):
            text = _one_line(cell.get_text(" "))
            span = cell.get("colspan")
            repeat = int(span) if span and str(span).isdigit() and 0 < int(span) <= 50 else 1
            cells.extend([text] * repeat)
        yield cells


def _html_to_parts(html: str, *, chrome_tags: bool = True):
    """Main text of an HTML page as parts; returns (parts, first h1, <title>, meta title)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    page_title = _one_line(soup.title.get_text(" ")) if soup.title else ""
    meta_title = ""
    for attrs in ({"property": "og:title"}, {"name": "title"}, {"name": "dc.title"}):
        meta = soup.find("meta", attrs=attrs)
        if meta and meta.get("content"):
            meta_title = _one_line(meta["content"])
            break
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(lambda t: t.has_attr("hidden") or t.get("aria-hidden") == "true"):
        tag.decompose()  # not shown to readers, so not content (often menus, templates, icons)
    if soup.head:
        soup.head.decompose()
    mains = soup.find_all("main") or soup.find_all("article")
    # Keep only outermost main/article elements (an article may sit inside main).
    roots = [m for m in mains if not any(p in mains for p in m.parents)]
    if not roots:
        roots = [soup.body or soup]
        if chrome_tags:
            # Page chrome only outside main/article: an <article><header> holds the article's own title.
            for tag in soup.find_all(["header", "footer"]):
                tag.decompose()
    walker = _HtmlWalker()
    for root in roots:
        walker.walk(root)
        walker.flush_inline()
    walker.flush_section()
    return walker.parts, walker.first_h1, page_title, meta_title


def _read_html(raw: bytes, path: Path):
    html = decode_text(raw, declared=_declared_charset(raw))
    parts, first_h1, page_title, meta_title = _html_to_parts(html)
    return meta_title or first_h1 or page_title, parts, {}


_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def _read_markdown(raw: bytes, path: Path):
    from markdown_it import MarkdownIt

    text = decode_text(raw)
    meta: dict = {}
    match = _FRONT_MATTER_RE.match(text)
    if match:
        import yaml

        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            meta = loaded
            text = text[match.end():]
    html = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough").render(text)
    # Markdown has no page chrome: <header>/<footer> written in it are content.
    parts, first_h1, _, _ = _html_to_parts(html, chrome_tags=False)
    title = _one_line(meta.get("title", "")) or first_h1
    metadata = {
        str(k): (v.isoformat() if isinstance(v, (date, datetime)) else v)
        for k, v in meta.items()
        if isinstance(v, (str, int, float, bool, date, datetime))
    }
    return title, parts, metadata


# --------------------------------------------------------------------------------------------
# plain text, CSV, XLSX


def _read_text(raw: bytes, path: Path):
    return "", [_Part(decode_text(raw))], {}


def _read_csv(raw: bytes, path: Path):
    text = decode_text(raw)
    sample = text[:64_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise _Reject(f"is not a well-formed CSV ({exc})") from None
    lines = list(render_table(rows))
    header = next((r for r in rows if any(c.strip() for c in r)), [])
    columns = _header_names([_cell_text(c) for c in header])
    return "", [_Part("\n".join(lines))], {"rows": len(lines), "columns": columns}


def _read_xlsx(raw: bytes, path: Path):
    import openpyxl

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise _Reject("is not a valid XLSX file (not a ZIP package): corrupt or mislabelled")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # InvalidFileException, KeyError for a missing part, lxml errors
        raise _Reject(f"is not a valid XLSX file ({_one_line(exc) or type(exc).__name__})") from None
    try:
        title = _one_line(workbook.properties.title) if workbook.properties else ""
        parts, sheets, total = [], [], 0
        for sheet in workbook.worksheets:
            lines = list(render_table(sheet.iter_rows(values_only=True)))
            sheets.append(sheet.title)
            total += len(lines)
            if lines:
                parts.append(_Part("\n".join(lines), heading_path=(sheet.title,)))
    finally:
        workbook.close()
    return title, parts, {"sheets": sheets, "rows": total}


_READERS = {
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".html": _read_html,
    ".htm": _read_html,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".txt": _read_text,
    ".text": _read_text,
    ".csv": _read_csv,
    ".xlsx": _read_xlsx,
}
