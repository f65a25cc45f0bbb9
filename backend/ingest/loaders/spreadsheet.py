"""CSV and XLSX readers: every row kept as a row, with its header."""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from backend.ingest.loaders.common import Part, Reject, cell_text, decode_text, header_names, one_line, render_table


def read_csv(raw: bytes, path: Path):
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
        raise Reject(f"is not a well-formed CSV ({exc})") from None
    lines = list(render_table(rows))
    header = next((r for r in rows if any(c.strip() for c in r)), [])
    columns = header_names([cell_text(c) for c in header])
    return "", [Part("\n".join(lines))], {"rows": len(lines), "columns": columns}


def read_xlsx(raw: bytes, path: Path):
    import openpyxl

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise Reject("is not a valid XLSX file (not a ZIP package): corrupt or mislabelled")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # InvalidFileException, KeyError for a missing part, lxml errors
        raise Reject(f"is not a valid XLSX file ({one_line(exc) or type(exc).__name__})") from None
    try:
        title = one_line(workbook.properties.title) if workbook.properties else ""
        parts, sheets, total = [], [], 0
        for sheet in workbook.worksheets:
            lines = list(render_table(sheet.iter_rows(values_only=True)))
            sheets.append(sheet.title)
            total += len(lines)
            if lines:
                parts.append(Part("\n".join(lines), heading_path=(sheet.title,)))
    finally:
        workbook.close()
    return title, parts, {"sheets": sheets, "rows": total}


