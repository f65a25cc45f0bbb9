"""DOCX reader: paragraphs under their heading path, tables row by row."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Iterator

from backend.ingest.loaders.common import Part, Reject, one_line, render_table

_HEADING_STYLE_RE = re.compile(r"^heading\s*(\d)$", re.I)


def read_docx(raw: bytes, path: Path):
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise Reject("is not a valid DOCX file (not a ZIP package): corrupt or mislabelled")
    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as exc:  # PackageNotFoundError, KeyError for a missing part, lxml errors
        raise Reject(f"is not a valid DOCX file ({one_line(exc) or type(exc).__name__})") from None
    title = one_line(document.core_properties.title)
    first_heading = ""
    headings: list[tuple[int, str]] = []
    parts: list[Part] = []
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
                heading = one_line(text)
                if level <= 1 and not first_heading:
                    first_heading = heading
                headings = [(lv, h) for lv, h in headings if lv < level] + [(level, heading)]
                parts.append(Part(heading, heading_path=tuple(h for _, h in headings)))
            elif style.lower().startswith("list"):
                # List items one per line, as in HTML and Markdown, not one paragraph each.
                item = "- " + one_line(text)
                if parts and parts[-1].heading_path == path_now and last_was_item:
                    parts[-1] = Part(parts[-1].text + "\n" + item, heading_path=path_now)
                else:
                    parts.append(Part(item, heading_path=path_now))
                last_was_item = True
                continue
            else:
                parts.append(Part(text, heading_path=path_now))
            last_was_item = False
        elif isinstance(block, Table):
            tables += 1
            lines = list(render_table(_docx_rows(block)))
            if lines:
                parts.append(Part("\n".join(lines), heading_path=path_now))
            last_was_item = False
    return title or first_heading, parts, {"paragraphs": paragraphs, "tables": tables}


def _docx_rows(table) -> Iterator[list[str]]:
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A horizontally merged cell appears once per grid column: its text once, in its first column, and
            # empty cells for the rest, so every later cell stays under its own header.
            cells.append("" if id(cell._tc) in seen else " ".join(cell.text.split()))
            seen.add(id(cell._tc))
        yield cells


# --------------------------------------------------------------------------------------------
# HTML (and Markdown, rendered to HTML first)

