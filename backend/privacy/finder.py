"""Find everything the platform holds about one person: every DuckDB table (specific finders and a generic scan of every
text column), stored originals, uploaded files, the documents' source files and the index files in the data dir."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from backend.clock import utc_now
from backend.ingest.attachments import attachment_texts, source_file
from backend.privacy.subject import Match, SubjectRequest, snippet
from backend.store import subject_tables as tables
from backend.store.rows import Con

NOT_PRESENT = {
    "fine-tune datasets": "not present in this installation: Groundwork has no fine-tune dataset store yet",
}
TEXT_FILES = frozenset({".md", ".markdown", ".txt", ".text", ".csv", ".html", ".htm"})  # rewritable as text
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REWRITABLE_ORIGINALS = frozenset({"text/csv", XLSX})
SOURCE_WHY = ("outside the data dir: the platform does not own this file and leaves it; edit or delete it, "
              "else ingesting it again brings the data back")


@dataclass
class Occurrence:
    """One place the person's identifier appears: where (store, table, row, column), in what context, and what
    erasure does there (action and why)."""

    store: str
    table: str  # a DuckDB table, or "file"
    row: str  # the row's key ("id=12"), or a file's path (relative to the data dir when inside it)
    column: str  # the column, with the path inside a JSON value ("answer.citations[0].context"); "" for a file
    kind: str
    value: str
    context: str
    masked: str
    collection: str | None
    tenant: str | None
    action: str  # redact | delete | keep | special | reindex
    why: str
    key: tuple = ()

    def listing(self) -> dict[str, Any]:
        """The row shown on a screen or in a log: the identifier masked."""
        return {"store": self.store, "table": self.table, "row": self.row, "column": self.column, "kind": self.kind,
                "collection": self.collection, "tenant": self.tenant, "context": self.masked, "action": self.action}

    def to_dict(self) -> dict[str, Any]:
        """Everything, unmasked: the person's own report."""
        data = asdict(self)
        data.pop("masked")
        data["key"] = [str(k) for k in self.key]
        return data


@dataclass
class SubjectFindings:
    request: SubjectRequest
    occurrences: list[Occurrence]
    covered: list[str]  # tables a specific finder covers
    generic_only: list[str]  # tables only the generic scan covered
    files_scanned: dict[str, int]
    notes: dict[str, str] = field(default_factory=dict)  # store -> why it was not scanned
    scanned_at: datetime = field(default_factory=utc_now)

    def by_store(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for occurrence in self.occurrences:
            counts[occurrence.store] = counts.get(occurrence.store, 0) + 1
        return counts

    def by_table(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for occurrence in self.occurrences:
            name = f"{occurrence.store}: {occurrence.table}"
            counts[name] = counts.get(name, 0) + 1
        return counts

    @property
    def erasable(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.action != "keep"]

    @property
    def retained(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.action == "keep"]


# --- cells ------------------------------------------------------------------------------------------------
def cell_texts(value: Any, kind: str) -> Iterator[tuple[str, str]]:
    """(path inside the value, text) of every string a cell holds: a JSON value walked, a list item by item."""
    if value is None:
        return
    if kind == "json":
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            yield "", str(value)
            return
        yield from _walk(parsed, "")
    elif kind == "list":
        for index, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
            if item is not None:
                yield f"[{index}]", str(item)
    elif kind == "blob":
        yield "", bytes(value).decode("utf-8", errors="ignore")
    else:
        yield "", str(value)


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(str(name), f"{path}.<key>" if path else "<key>")
            yield from _walk(item, f"{path}.{name}" if path else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _occurrences(request: SubjectRequest, text: str, matches: list[Match], **where) -> list[Occurrence]:
    return [Occurrence(kind=m.kind, value=m.value, context=snippet(text, m, masked=False),
                       masked=snippet(text, m, masked=True, matches=matches), **where) for m in matches]


def _row_label(spec: tables.TableSpec, key: tuple) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(spec.key, key))


# --- DuckDB tables ----------------------------------------------------------------------------------------
# Stored originals are bytes of a format (a PDF compresses its text): read through the loaders instead.
_SPECIAL_COLUMNS = {("document_files", "content")}


def scan_table(con: Con, request: SubjectRequest, table: str, columns: dict[str, str]) -> list[Occurrence]:
    """Every occurrence in one table's text columns (the cursor may be an erasure's transaction)."""
    spec, _ = tables.spec_for(table)
    found: list[Occurrence] = []
    needles, digits = request.needles(), request.digit_needles()
    for column, kind in columns.items():
        if (table, column) in _SPECIAL_COLUMNS:
            continue
        action, why = spec.column_action(column)
        if kind == "composite" and action != "keep":
            action, why = "keep", "a composite value: the generic scan reads it but cannot rewrite it; change it by hand"
        for row in tables.candidate_rows(con, spec, column, kind, needles, digits):
            for path, text in cell_texts(row["value"], kind):
                matches = request.find(text)
                if matches:
                    found += _occurrences(
                        request, text, matches, store=spec.store, table=table, row=_row_label(spec, row["key"]),
                        column=column + (path if path.startswith("[") else f".{path}" if path else ""),
                        collection=row["collection"], tenant=row["tenant"], action=action, why=why, key=row["key"])
    return found


def original_text(mime: str, content: bytes) -> str:
    """The text of a stored original, read as ingest read it (a PDF's pages, a workbook's cells)."""
    from backend.ingest.loaders.common import assemble, decode_text
    from backend.ingest.loaders.pdf import read_pdf
    from backend.ingest.loaders.spreadsheet import read_csv, read_xlsx

    readers = {"application/pdf": read_pdf, "text/csv": read_csv, XLSX: read_xlsx}
    reader = readers.get(mime)
    if reader is None:
        return decode_text(content)
    try:
        _, parts, _ = reader(content, Path(f"original{'.pdf' if mime == 'application/pdf' else ''}"))
        return assemble(parts)[0]
    except Exception:  # noqa: BLE001 - a damaged original: its raw bytes are still searched
        return content.decode("utf-8", errors="ignore")


def scan_originals(con: Con, request: SubjectRequest) -> list[Occurrence]:
    spec = tables.SPECS["document_files"]
    found: list[Occurrence] = []
    for document_id, version, mime, content, collection, tenant in tables.stored_originals(con):
        text = original_text(mime, content)
        matches = request.find(text)
        rewritable = mime in REWRITABLE_ORIGINALS
        found += _occurrences(
            request, text, matches, store=spec.store, table="document_files",
            row=f"document_id={document_id}, version={version}", column="content", collection=collection,
            tenant=tenant, action="redact" if rewritable else "delete", why=spec.why, key=(document_id, version))
    return found


_FINDING_KINDS = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "PERSON": "name"}  # else the id's own hash


def scan_findings_table(con: Con, request: SubjectRequest, data_dir: Path) -> tuple[list[Occurrence], str | None]:
    """The personal-data findings recorded at ingest (document_pii) of the person's values: a finding holds a salted
    hash, never the value, so the identifiers are hashed the way ingest hashed them. (occurrences, a note when that
    store is not in this installation)."""
    if not tables.table_exists(con, "document_pii"):
        return [], "not present in this installation (the table document_pii does not exist)"
    from backend.ingest.personal_data import search_hashes

    spec = tables.SPECS["document_pii"]
    values = {*request.emails, *(p.raw for p in request.phones), *request.customer_ids,
              *(" ".join(n) for n in request.names), *(f"{n[-1]}, {' '.join(n[:-1])}" for n in request.names)}
    hashes = sorted({h for value in values for h in search_hashes(data_dir, value)})
    found = []
    for row in tables.findings_by_hash(con, hashes):
        where = (f"a {row['entity_type']} finding in document {row['document_id']} version {row['version']}, "
                 f"characters {row['char_start']}-{row['char_end']}")
        found.append(Occurrence(
            store=spec.store, table="document_pii", row=_row_label(spec, (row["rowid"],)), column="value_hash",
            kind=_FINDING_KINDS.get(row["entity_type"], "customer_id"), value="(a salted hash of the value)", context=f"{where} ({row['title']})",
            masked=where, collection=row["collection"], tenant=row["tenant"], action=spec.action, why=spec.why,
            key=(row["rowid"],)))
    return found, None


# --- files ------------------------------------------------------------------------------------------------
def _relative(path: Path, data_dir: Path) -> str:
    try:
        return str(path.relative_to(data_dir))
    except ValueError:
        return str(path)


def _file_lines(path: Path) -> Iterator[str]:
    """A file's text, a line at a time (an index's texts file can be large); a JSON line decoded."""
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.decode("utf-8", errors="ignore")
            if path.suffix == ".jsonl":
                try:
                    value = json.loads(line)
                    line = value if isinstance(value, str) else line
                except ValueError:
                    pass
            yield line


def scan_index_files(request: SubjectRequest, index_dir: Path, data_dir: Path) -> tuple[list[Occurrence], int]:
    """The bytes of every file under the index dir (FAISS, BM25's texts and vocabulary, manifests), searched as
    text: a chunk replaced in an index can leave its old text behind in a BM25 segment until the next merge."""
    found: list[Occurrence] = []
    files = sorted(p for p in Path(index_dir).rglob("*") if p.is_file()) if Path(index_dir).exists() else []
    for path in files:
        collection_dir = next((part for part in path.relative_to(index_dir).parts if part.startswith("collection-")), "")
        collection_id = int(collection_dir.split("-", 1)[1]) if collection_dir[11:].isdigit() else None
        for number, line in enumerate(_file_lines(path), start=1):
            matches = request.find(line)
            found += _occurrences(
                request, line, matches, store="index files", table="file", row=_relative(path, data_dir),
                column=f"line {number}", collection=None, tenant=None, action="reindex",
                why="the collection's BM25 index is rebuilt from its live chunks and FAISS and BM25 saved again; a "
                    "directory of no collection is removed", key=(collection_id, str(path)))
    return found, len(files)


def _loaded_text(path: Path, max_bytes: int) -> str | None:
    """A file's text as ingest reads it (its raw bytes when no loader can), read again only once it changed."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _file_text(str(path), stat.st_mtime_ns, stat.st_size, max_bytes)


@lru_cache(maxsize=256)  # keyed by modification time and size: a PDF is slow to read, a find reads every source
def _file_text(path: str, mtime_ns: int, size: int, max_bytes: int) -> str | None:
    from backend.ingest.loaders import load_file
    from backend.models import InputError

    try:
        # A mail file also holds its attachments (each its own document): their text is in the file, so it is found.
        return "\n\n".join([load_file(Path(path), max_bytes).text, *attachment_texts(Path(path), max_bytes)])
    except InputError:
        try:
            return Path(path).read_bytes()[:max_bytes].decode("utf-8", errors="ignore")
        except OSError:
            return None


def scan_uploads(request: SubjectRequest, data_dir: Path, max_bytes: int) -> tuple[list[Occurrence], int]:
    """Files kept under the data dir's uploads/ (the sources of uploaded documents): their text and their names."""
    root = Path(data_dir) / "uploads"
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    found: list[Occurrence] = []
    for path in files:
        text_file = path.suffix.lower() in TEXT_FILES
        where = dict(store="uploaded files", table="file", row=_relative(path, data_dir), collection=None, tenant=None,
                     action="redact" if text_file else "delete", key=(str(path),),
                     why="an uploaded text file is rewritten with the values replaced; any other format is deleted "
                         "(its document's text stays, redacted); a file named after the person is deleted")
        name_matches = request.find(path.name)
        if name_matches:
            found += _occurrences(request, path.name, name_matches, column="file name",
                                  **{**where, "action": "delete"})
        text = _loaded_text(path, max_bytes)
        if text:
            found += _occurrences(request, text, request.find(text), column="content", **where)
    return found, len(files)


def scan_sources(con: Con, request: SubjectRequest, data_dir: Path, max_bytes: int) -> tuple[list[Occurrence], int]:
    """The files outside the data dir that documents were read from: listed, never changed (see SOURCE_WHY)."""
    found: list[Occurrence] = []
    seen: set[Path] = set()
    root = Path(data_dir).resolve()
    for source, document_id, collection, tenant in tables.document_sources(con):
        path = Path(source)
        if not path.is_file():
            path = source_file(source)  # an attachment has no file of its own: its mail holds it
        try:
            resolved = path.resolve()
            if resolved in seen or resolved.is_relative_to(root) or not resolved.is_file():
                continue
        except OSError:
            continue
        seen.add(resolved)
        text = _loaded_text(resolved, max_bytes)
        if text:
            found += _occurrences(request, text, request.find(text), store="source files", table="file",
                                  row=str(path), column=f"source of document {document_id}", collection=collection,
                                  tenant=tenant, action="keep", why=SOURCE_WHY, key=(str(path),))
    return found, len(seen)


# --- everything -------------------------------------------------------------------------------------------
def find_everywhere(store, settings, request: SubjectRequest) -> SubjectFindings:
    """Every occurrence of the person's identifiers in every store this installation has."""
    occurrences: list[Occurrence] = []
    covered: list[str] = []
    generic_only: list[str] = []
    notes = dict(NOT_PRESENT)
    with store.cursor() as cur:
        for table, columns in tables.text_columns(cur).items():
            _, specific = tables.spec_for(table)
            (covered if specific else generic_only).append(table)
            occurrences += scan_table(cur, request, table, columns)
        occurrences += scan_originals(cur, request)
        pii, note = scan_findings_table(cur, request, settings.data_dir)
        occurrences += pii
        if note:
            notes["personal-data findings"] = note
        max_bytes = int(settings.max_file_mb * 1024 * 1024)
        sources, n_sources = scan_sources(cur, request, settings.data_dir, max_bytes)
    occurrences += index_entries(occurrences)
    index_files, n_index = scan_index_files(request, settings.index_dir, settings.data_dir)
    uploads, n_uploads = scan_uploads(request, settings.data_dir, max_bytes)
    occurrences += index_files + uploads + sources
    return SubjectFindings(request, occurrences, covered, generic_only,
                           {"index files": n_index, "uploaded files": n_uploads, "source files": n_sources}, notes)


def index_entries(occurrences: list[Occurrence]) -> list[Occurrence]:
    """The FAISS vector and BM25 entry built from each chunk that mentions the person (one per chunk)."""
    out, seen = [], set()
    for o in occurrences:
        if o.table == "chunks" and o.key not in seen:
            seen.add(o.key)
            out.append(Occurrence(
                store="search indexes", table=f"FAISS and BM25 of {o.collection}", row=f"chunk id={o.key[0]}",
                column="vector, text", kind=o.kind, value=o.value, context=o.context, masked=o.masked,
                collection=o.collection, tenant=o.tenant, action="reindex",
                why="replaced by the redacted chunk's new vector and text", key=o.key))
    return out
