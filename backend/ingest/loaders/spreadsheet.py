"""CSV and XLSX readers: every row kept as a row, with its header."""
from __future__ import annotations

import csv
import io
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from backend.ingest.loaders.common import Part, Reject, cell_text, decode_text, header_names, one_line, render_table


def csv_rows(raw: bytes) -> list[list[str]]:
    """A CSV's rows as strings: decoded, its dialect sniffed; Reject when it is not well-formed. Ingest and the
    query_table tool both read CSVs through this, so a row means the same to both."""
    text = decode_text(raw)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:64_000], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        return list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise Reject(f"is not a well-formed CSV ({exc})") from None


@contextmanager
def open_workbook(raw: bytes) -> Iterator:
    """The XLSX workbook (read-only, values as last computed), closed afterwards; Reject when it is not one."""
    import openpyxl

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise Reject("is not a valid XLSX file (not a ZIP package): corrupt or mislabelled")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # InvalidFileException, KeyError for a missing part, lxml errors
        raise Reject(f"is not a valid XLSX file ({one_line(exc) or type(exc).__name__})") from None
    try:
        yield workbook
    finally:
        workbook.close()


def read_csv(raw: bytes, path: Path):
    rows = csv_rows(raw)
    lines = list(render_table(rows))
    header = next((r for r in rows if any(c.strip() for c in r)), [])
    columns = header_names([cell_text(c) for c in header])
    return "", [Part("\n".join(lines))], {"rows": len(lines), "columns": columns}


def read_xlsx(raw: bytes, path: Path):
    with open_workbook(raw) as workbook:
        title = one_line(workbook.properties.title) if workbook.properties else ""
        parts, sheets, total = [], [], 0
        for sheet in workbook.worksheets:
            lines = list(render_table(sheet.iter_rows(values_only=True)))
            sheets.append(sheet.title)
            total += len(lines)
            if lines:
                parts.append(Part("\n".join(lines), heading_path=(sheet.title,)))
    return title, parts, {"sheets": sheets, "rows": total}
