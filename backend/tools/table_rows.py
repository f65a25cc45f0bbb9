"""The rows of an ingested CSV or XLSX document, parsed from its stored original and cached by version."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from backend.ingest.clean import clean_text, content_hash
from backend.ingest.loaders import SUPPORTED_EXTENSIONS
from backend.ingest.loaders.common import Reject, cell_text, header_names, render_row
from backend.ingest.loaders.spreadsheet import csv_rows, open_workbook
from backend.ingest.personal_data import original_withheld
from backend.store import document_files, document_pii

CSV_TYPE = SUPPORTED_EXTENSIONS[".csv"]
XLSX_TYPE = SUPPORTED_EXTENSIONS[".xlsx"]
TABLE_TYPES = (CSV_TYPE, XLSX_TYPE)
SHEET_COLUMN = "sheet"  # added first when a workbook has rows on more than one sheet

_CACHE_TABLES = 32
_CACHE_CELLS = 2_000_000  # a few large tables at most; parsing again is cheap next to holding them all


class TableUnreadable(Exception):
    """The document's rows cannot be had: no stored original and no matching source file, or a damaged file."""


@dataclass
class TableRows:
    """A table's columns (unique names, in order) and rows (one value per column, '' when empty), with each row as
    the ingested text renders it (`lines`) and the chunk that holds that line, when one does (`chunk_ids`)."""

    columns: list[str]
    rows: list[tuple[str, ...]]
    lines: list[str] = field(default_factory=list)
    chunk_ids: list[int | None] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return len(self.columns) * len(self.rows)


@dataclass
class _Sheet:
    name: str | None
    columns: list[str]
    rows: list[list[str]]
    lines: list[str]


def _unique(names: list[str]) -> list[str]:
    """Header names made unique ('amount', 'amount (2)'), so each can be asked for by name."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        key = name.casefold()
        seen[key] = seen.get(key, 0) + 1
        out.append(name if seen[key] == 1 else f"{name} ({seen[key]})")
    return out


def _sheet(name: str | None, raw_rows: Iterable[Iterable[object]]) -> _Sheet:
    """Rows under the header the loaders use (the first row of several cells: one-cell rows above it are titles),
    each also rendered as render_table renders it, so the chunk holding it can be found by that line."""
    rows = []
    for raw_row in raw_rows:
        row = [cell_text(cell) for cell in raw_row]
        while row and not row[-1]:
            row.pop()
        if row:
            rows.append(row)
    at = next((i for i, row in enumerate(rows) if len(row) > 1), None)
    if at is None:  # one column: its first row names it, and render_table gave its values unlabelled
        header, data, labels = (rows[0] if rows else []), rows[1:], None
    else:
        header, data = rows[at], rows[at + 1:]
        labels = header_names(header)
    width = max([len(header)] + [len(r) for r in data])
    columns = _unique(header_names(header + [""] * (width - len(header))))
    lines = [clean_text(render_row(labels, row)) for row in data]
    return _Sheet(name, columns, [r + [""] * (width - len(r)) for r in data], lines)


def csv_sheets(raw: bytes) -> list[_Sheet]:
    """A CSV's rows, read as the loader reads them (same decoding and dialect sniffing)."""
    return [_sheet(None, csv_rows(raw))]


def xlsx_sheets(raw: bytes) -> list[_Sheet]:
    """Every worksheet's rows, values as last computed (as the loader reads them)."""
    with open_workbook(raw) as workbook:
        return [_sheet(sheet.title, sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]


def combine(sheets: list[_Sheet]) -> TableRows:
    """One table from a file's sheets: a lone sheet as it is; several with rows under the union of their columns,
    each row led by its sheet's name (so `where` can pick a sheet)."""
    filled = [s for s in sheets if s.rows]
    if len(filled) <= 1:
        sheet = filled[0] if filled else (sheets[0] if sheets else _Sheet(None, [], [], []))
        return TableRows(sheet.columns, [tuple(r) for r in sheet.rows], list(sheet.lines))
    union: dict[str, int] = {}
    for sheet in filled:
        for name in sheet.columns:
            union.setdefault(name.casefold(), len(union))
    names = [""] * len(union)
    for sheet in reversed(filled):  # the first sheet's spelling of a shared column wins
        for name in sheet.columns:
            names[union[name.casefold()]] = name
    rows, lines = [], []
    for sheet in filled:
        positions = [union[name.casefold()] for name in sheet.columns]
        for row, line in zip(sheet.rows, sheet.lines):
            values = [""] * len(union)
            for position, value in zip(positions, row):
                values[position] = value
            rows.append((sheet.name or "", *values))
            lines.append(line)
    return TableRows(_unique([SHEET_COLUMN, *names]), rows, lines)


class _TableCache:
    """Parsed tables by (store file, document id, version, content hash), least recently used dropped first once
    there are more than _CACHE_TABLES of them or _CACHE_CELLS cells in all. Thread-safe."""

    def __init__(self, tables: int = _CACHE_TABLES, cells: int = _CACHE_CELLS):
        self.tables, self.cells = tables, cells
        self._entries: OrderedDict[tuple, TableRows] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> TableRows | None:
        with self._lock:
            table = self._entries.get(key)
            if table is not None:
                self._entries.move_to_end(key)
            return table

    def put(self, key: tuple, table: TableRows) -> None:
        if table.cells > self.cells:
            return  # larger than the whole cache: parsed again on each call rather than evicting every other table
        with self._lock:
            self._entries[key] = table
            self._entries.move_to_end(key)
            while len(self._entries) > self.tables or sum(t.cells for t in self._entries.values()) > self.cells:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


TABLE_CACHE = _TableCache()


def _original(platform, row: dict) -> bytes:
    """The document version's stored original; for one ingested before CSV/XLSX originals were stored, its source
    file, if that still reads as exactly the text that was indexed (the same content hash)."""
    with platform.store.cursor() as cur:
        stored = document_files.file_content(cur, row["id"], row["version"])
        redacted = stored is None and document_pii.stored_redacted(cur, row["id"])
    if stored is not None:
        return stored  # for a collection that redacts at ingest, a CSV kept redacted
    if redacted:  # its source file still holds the personal data the stored text lost
        raise TableUnreadable(original_withheld("XLSX" if row["mime_type"] == XLSX_TYPE else "CSV"))
    from backend.ingest.loaders import load_file

    source = Path(row["source"])
    try:
        loaded = load_file(source, int(platform.settings.max_file_mb * 1024 * 1024))
        if content_hash(loaded.text) == row["content_hash"]:
            return source.read_bytes()
    except Exception:  # noqa: BLE001 - gone, unreadable or no longer a table: the message below says which it is not
        pass
    raise TableUnreadable(f"no original file was stored with version {row['version']} (it was ingested before "
                          f"tables were kept) and its source file {source.name} is gone or has changed since")


def load_table(platform, ctx, row: dict) -> TableRows:
    """The rows of a readable table document's current version (`row` as platform.corpus.documents lists it)."""
    key = (str(platform.store.path), row["id"], row["version"], row["content_hash"])
    table = TABLE_CACHE.get(key)
    if table is not None:
        return table
    raw = _original(platform, row)
    try:
        table = combine(xlsx_sheets(raw) if row["mime_type"] == XLSX_TYPE else csv_sheets(raw))
    except Reject as exc:
        raise TableUnreadable(str(exc)) from None
    # The chunk that holds each row's whole line (a line cut by a chunk's overlap is only whole in its neighbour).
    holder: dict[str, int] = {}
    for chunk in platform.corpus.chunks(row["id"], ctx):
        for line in chunk.text.split("\n"):
            holder.setdefault(line.strip(), chunk.id)
    table.chunk_ids = [holder.get(line) for line in table.lines]
    TABLE_CACHE.put(key, table)
    return table
