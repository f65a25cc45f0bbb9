"""SQL of data-subject requests: which tables hold text, the rows that may mention a person, and rewriting them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from backend.store.rows import Con

_BATCH = 1000
# Between a phone number's digits, what people write (a no-break space also as JSON writes it): RE2, matched by
# DuckDB ~80x faster than stripping every non-digit of a column and searching the digits.
_PHONE_SEPARATORS = r"(?:[ \t\x{00a0}().\-/]|\\u00a0)*"


@dataclass(frozen=True)
class TableSpec:
    """How a data-subject request treats one table: the store a person would name, the key of a row, where its
    collection and tenant are (SQL over alias t and `joins`), its write lane, and what erasure does to a match:
    `redact` the cell in place, `delete` the row, `keep` it (with `why`), or `special` (the corpus: documents'
    text with their sections, chunks re-indexed, stored originals rewritten; see backend/privacy/erasure.py)."""

    store: str
    table: str
    key: tuple[str, ...] = ("rowid",)
    collection: str = "NULL"
    tenant: str = "NULL"
    joins: str = ""
    lane: str = "corpus"
    action: str = "redact"
    why: str = ""
    keep: dict[str, str] = field(default_factory=dict)  # column -> why it is left as it is

    def column_action(self, column: str) -> tuple[str, str]:
        if column in self.keep:
            return "keep", self.keep[column]
        return self.action, self.why


_COLLECTION, _TENANT = "col.name", "col.tenant"  # where a document's collection is, in the joins below
_ACCOUNT = "an account is changed or disabled on the Admin page, where that change is audited"
SPECS: dict[str, TableSpec] = {spec.table: spec for spec in (
    TableSpec("documents", "collections", ("id",), "t.name", "t.tenant", why="a description is redacted in place",
              keep={"name": "a collection's name keys its index, grants and uploads: rename it on the Collections page"}),
    TableSpec("documents", "documents", ("id",), joins="JOIN collections col ON col.id = t.collection_id", collection=_COLLECTION, tenant=_TENANT,
              why="the title, source and metadata are redacted in place; the document stays"),
    TableSpec("documents", "document_versions", ("document_id", "version"), action="special", collection=_COLLECTION, tenant=_TENANT,
              joins="JOIN documents d ON d.id = t.document_id JOIN collections col ON col.id = d.collection_id",
              why="every version's text is redacted in place (sections moved with it): the rest of the document is "
                  "the organisation's record and stays searchable"),
    TableSpec("chunks", "chunks", ("id",), "col.name", "t.tenant", "JOIN collections col ON col.id = t.collection_id",
              action="special", why="redacted like their document, re-embedded, and replaced in FAISS and BM25 "
                                    "under new chunk ids (so crash recovery can tell old from new)"),
    TableSpec("stored originals", "document_files", ("document_id", "version"), action="special", collection=_COLLECTION, tenant=_TENANT,
              joins="JOIN documents d ON d.id = t.document_id JOIN collections col ON col.id = d.collection_id",
              why="a CSV or XLSX original is rewritten with the values replaced; a PDF (or other) original is "
                  "deleted, since its bytes cannot be redacted safely (its text stays, redacted)"),
    TableSpec("ingest history", "ingest_runs", ("id",), joins="LEFT JOIN collections col ON col.id = t.collection_id",
              collection=_COLLECTION, tenant=_TENANT, why="a run's label is redacted in place"),
    TableSpec("ingest history", "ingest_files", ("rowid",), collection=_COLLECTION, tenant=_TENANT,
              joins="LEFT JOIN ingest_runs r ON r.id = t.run_id LEFT JOIN collections col ON col.id = r.collection_id",
              why="a file's path and message are redacted in place"),
    TableSpec("conversations", "conversations", ("id",), "t.collection", "t.tenant", lane="chat",
              why="title and summary are redacted in place", keep={"user_name": "the account that owns it; " + _ACCOUNT}),
    TableSpec("conversations", "messages", ("id",), "cv.collection", "cv.tenant", lane="chat",
              joins="LEFT JOIN conversations cv ON cv.id = t.conversation_id",
              why="a message is redacted in place, so its conversation keeps its turns for the person who had it"),
    TableSpec("feedback", "feedback", ("id",), "t.collection", lane="chat",
              why="a comment is redacted in place; the rating stays"),
    TableSpec("answer cache", "cache_entries", ("id",), "t.collection", "t.tenant", lane="chat", action="delete",
              why="a cached answer (and its semantic-lookup embedding) is derived: deleted, the next question "
                  "computes it again"),
    TableSpec("answer cache", "cache_events", ("rowid",), "t.collection", "t.tenant", lane="chat", action="delete",
              why="hit and miss events carry no text; one that did would be deleted"),
    TableSpec("traces", "traces", ("trace_id",), "t.collection", "t.tenant", lane="telemetry",
              why="question, answer and attributes are redacted in place: latency and cost figures stay true"),
    TableSpec("traces", "spans", ("trace_id", "span_id"), lane="telemetry", why="attributes are redacted in place"),
    TableSpec("traces", "trace_embeddings", ("trace_id",), lane="telemetry", action="delete",
              why="the embedding of a question that named the person cannot be redacted: deleted (drift embeds the "
                  "redacted question again)"),
    TableSpec("evaluation", "eval_gold_sets", ("name",), "t.collection", lane="evaluation",
              why="its origin is redacted in place", keep={"name": "runs refer to a gold set by its name"}),
    TableSpec("evaluation", "eval_gold_items", ("gold_set", "item_id"), "g.collection", lane="evaluation",
              joins="LEFT JOIN eval_gold_sets g ON g.name = t.gold_set", why="questions and answers redacted in place"),
    TableSpec("evaluation", "eval_experiments", ("id",), "t.collection", lane="evaluation", why="redacted in place"),
    TableSpec("evaluation", "eval_runs", ("id",), "t.base_collection", lane="evaluation", why="redacted in place"),
    TableSpec("evaluation", "eval_results", ("run_id", "item_id"), "r.base_collection", lane="evaluation",
              joins="LEFT JOIN eval_runs r ON r.id = t.run_id", why="questions, answers and contexts redacted in place"),
    TableSpec("tickets", "tickets", ("id",), tenant="t.tenant", lane="chat",
              why="a ticket is a hand-over record: its title and body are redacted in place",
              keep={"created_by": "the account that opened it; " + _ACCOUNT}),
    TableSpec("personal-data findings", "document_pii", ("rowid",), action="delete",
              why="a finding of the person's value (a salted hash) is deleted with the value it points at"),
    TableSpec("audit log", "audit_log", ("rowid",), action="keep",
              why="the audit log is append-only and never modified; it is designed to hold no personal data"),
    TableSpec("accounts", "users", ("id",), tenant="t.tenant", lane="gateway", action="keep", why=_ACCOUNT),
    TableSpec("accounts", "tenants", ("name",), lane="gateway", action="keep", why=_ACCOUNT),
    TableSpec("accounts", "groups", ("id",), tenant="t.tenant", lane="gateway", action="keep", why=_ACCOUNT),
    TableSpec("accounts", "collection_grants", ("group_id", "collection"), lane="gateway", action="keep", why=_ACCOUNT),
    TableSpec("accounts", "api_keys", ("id",), tenant="t.tenant", lane="gateway", why="a key's name is redacted in place",
              keep={"prefix": "a key's prefix is random", "secret_sha256": "a hash of a random secret", "scopes": _ACCOUNT}),
    TableSpec("accounts", "sign_in_attempts", ("id",), lane="gateway", action="delete",
              why="a sign-in attempt typed with the person's identifier is throttling history: deleted"),
    TableSpec("accounts", "sessions", ("token_sha256",), lane="gateway", action="keep", why="hashes of random tokens"),
    TableSpec("accounts", "session_codes", ("code_sha256",), lane="gateway", action="keep", why="hashes and sealed tokens"),
)}
GENERIC_WHY = "no specific finder knows this table yet: the generic scan found it, and the cell is redacted in place"


def spec_for(table: str) -> tuple[TableSpec, bool]:
    """(the table's spec, whether a specific finder covers it); an unknown table gets the generic scan's."""
    spec = SPECS.get(table)
    return (spec, True) if spec is not None else (TableSpec("other tables", table, why=GENERIC_WHY), False)


def text_columns(con: Con) -> dict[str, dict[str, str]]:
    """Every base table's columns that can hold text: table -> {column: text | json | blob | list | composite}."""
    rows = con.execute(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
        " JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema"
        " WHERE t.table_type = 'BASE TABLE' AND c.table_schema = 'main' ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        kind = {"VARCHAR": "text", "JSON": "json", "BLOB": "blob", "VARCHAR[]": "list"}.get(data_type.upper())
        if kind is None and ("VARCHAR" in data_type.upper() or "JSON" in data_type.upper()):
            kind = "composite"  # a struct or map holding text: scanned as its text form
        out.setdefault(table, {})
        if kind is not None:
            out[table][column] = kind
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_sql(spec: TableSpec) -> str:
    return ", ".join("t.rowid" if k == "rowid" else f"t.{_quoted(k)}" for k in spec.key)


def candidate_rows(con: Con, spec: TableSpec, column: str, kind: str, needles: Sequence[str],
                   digit_needles: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Rows whose `column` may mention the person: it contains one of the lower-case `needles` (also JSON-escaped,
    for JSON) or the digits of one of `digit_needles` with only separators between them. A superset of the
    matches; a BLOB is never prefiltered."""
    value = f"t.{_quoted(column)}"
    params: list = []
    if kind == "blob":
        where = f"{value} IS NOT NULL"
    else:
        text = f"CAST({value} AS VARCHAR)"
        forms = sorted({form for n in needles for form in (n, json.dumps(n)[1:-1].lower())}) if kind != "text" else list(needles)
        conditions = [f"contains(lower({text}), ?)" for _ in forms]
        conditions += [f"regexp_matches({text}, ?)" for _ in digit_needles]
        params = [*forms, *(_PHONE_SEPARATORS.join(digits) for digits in digit_needles)]
        if not conditions:
            return
        where = " OR ".join(conditions)
    keys = len(spec.key)
    result = con.execute(
        f"SELECT {_key_sql(spec)}, {spec.collection}, {spec.tenant}, {value} FROM {_quoted(spec.table)} t {spec.joins}"
        f" WHERE {where}", params)
    while True:
        rows = result.fetchmany(_BATCH)
        if not rows:
            return
        for row in rows:
            yield {"key": tuple(row[:keys]), "collection": row[keys], "tenant": row[keys + 1], "value": row[keys + 2]}


def _where(spec: TableSpec, key: Sequence) -> tuple[str, list]:
    return " AND ".join(f"{'rowid' if k == 'rowid' else _quoted(k)} = ?" for k in spec.key), list(key)


def update_cell(con: Con, spec: TableSpec, key: Sequence, column: str, value: Any) -> None:
    where, params = _where(spec, key)
    con.execute(f"UPDATE {_quoted(spec.table)} SET {_quoted(column)} = ? WHERE {where}", [value, *params])


def delete_row(con: Con, spec: TableSpec, key: Sequence) -> int:
    where, params = _where(spec, key)
    return len(con.execute(f"DELETE FROM {_quoted(spec.table)} WHERE {where} RETURNING 1", params).fetchall())


def delete_where_in(con: Con, table: str, column: str, values: Sequence) -> int:
    """Delete the rows whose `column` is one of `values` (e.g. the embeddings of traces that named the person)."""
    if not values:
        return 0
    return len(con.execute(f"DELETE FROM {_quoted(table)} WHERE {_quoted(column)} IN (SELECT unnest(?)) RETURNING 1",
                           [list(values)]).fetchall())


def table_exists(con: Con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
                            " AND table_name = ?", [table]).fetchone()[0])


# --- the corpus: documents, their versions, chunks and stored originals -------------------------------------
def document_rows(con: Con, document_ids: Sequence[int]) -> list[dict]:
    rows = con.execute(
        "SELECT d.id, d.collection_id, d.version, d.title, d.status, d.source FROM documents d"
        " WHERE d.id IN (SELECT unnest(?::INTEGER[])) ORDER BY d.id", [list(map(int, document_ids))]).fetchall()
    return [dict(zip(("id", "collection_id", "version", "title", "status", "source"), r)) for r in rows]


def version_rows(con: Con, document_ids: Sequence[int]) -> list[tuple[int, int, str, Any]]:
    """(document id, version, text, sections JSON) of every version of these documents."""
    return con.execute(
        "SELECT document_id, version, text, sections FROM document_versions"
        " WHERE document_id IN (SELECT unnest(?::INTEGER[])) ORDER BY document_id, version",
        [list(map(int, document_ids))]).fetchall()


def update_version(con: Con, document_id: int, version: int, text: str, sections: str, content_hash: str,
                   minhash: bytes) -> None:
    con.execute("UPDATE document_versions SET text = ?, sections = ?::JSON, content_hash = ?, minhash = ?"
                " WHERE document_id = ? AND version = ?", [text, sections, content_hash, minhash, document_id, version])


def update_document_hash(con: Con, document_id: int, content_hash: str) -> None:
    """The current version's new content hash: a redacted text is another content (the table tool and page images
    then no longer take the unredacted source file for the stored text)."""
    con.execute("UPDATE documents SET content_hash = ?, updated_at = current_timestamp WHERE id = ?",
                [content_hash, document_id])


_CHUNK_FIELDS = ("id", "document_id", "version", "collection_id", "tenant", "ordinal", "text", "token_count",
                 "char_start", "char_end", "page", "heading_path", "ocr_confidence")


def chunk_rows(con: Con, document_ids: Sequence[int]) -> list[dict]:
    """Every chunk of these documents, all columns but the embedding, in order."""
    rows = con.execute(
        f"SELECT {', '.join(_CHUNK_FIELDS)} FROM chunks WHERE document_id IN (SELECT unnest(?::INTEGER[]))"
        " ORDER BY document_id, ordinal", [list(map(int, document_ids))]).fetchall()
    return [dict(zip(_CHUNK_FIELDS, r)) for r in rows]


def delete_chunks(con: Con, chunk_ids: Sequence[int]) -> None:
    con.execute("DELETE FROM chunks WHERE id IN (SELECT unnest(?::BIGINT[]))", [list(map(int, chunk_ids))])


def stored_originals(con: Con) -> Iterator[tuple[int, int, str, bytes, str | None, str | None]]:
    """(document id, version, mime type, bytes, collection, tenant) of every stored original, a few at a time."""
    result = con.execute(
        "SELECT f.document_id, f.version, f.mime_type, f.content, col.name, col.tenant FROM document_files f"
        " LEFT JOIN documents d ON d.id = f.document_id LEFT JOIN collections col ON col.id = d.collection_id"
        " ORDER BY f.document_id, f.version")
    while True:
        rows = result.fetchmany(50)
        if not rows:
            return
        for document_id, version, mime, content, collection, tenant in rows:
            yield document_id, version, mime, bytes(content), collection, tenant


def replace_original(con: Con, document_id: int, version: int, content: bytes) -> None:
    con.execute("UPDATE document_files SET content = ?, size_bytes = ? WHERE document_id = ? AND version = ?",
                [content, len(content), document_id, version])


def delete_original(con: Con, document_id: int, version: int) -> None:
    con.execute("DELETE FROM document_files WHERE document_id = ? AND version = ?", [document_id, version])


def document_sources(con: Con) -> list[tuple[str, int, str, str]]:
    """(source, document id, collection, tenant) of every document: the files they were read from."""
    return con.execute(
        "SELECT d.source, d.id, col.name, col.tenant FROM documents d JOIN collections col ON col.id = d.collection_id"
        " ORDER BY d.id").fetchall()


def collection_ids(con: Con) -> dict[int, dict]:
    rows = con.execute("SELECT id, name, tenant FROM collections").fetchall()
    return {r[0]: {"id": r[0], "name": r[1], "tenant": r[2]} for r in rows}


# --- personal-data findings recorded at ingest (document_pii, migration 090) -----------------------------------
def findings_by_hash(con: Con, hashes: Sequence[str]) -> list[dict]:
    """Every finding whose value hash is one of `hashes`, with its document's collection (any status)."""
    fields = ("rowid", "document_id", "version", "entity_type", "chunk_id", "char_start", "char_end", "collection",
              "tenant", "title")
    rows = con.execute(
        "SELECT p.rowid, p.document_id, p.version, p.entity_type, p.chunk_id, p.char_start, p.char_end, col.name,"
        " col.tenant, d.title FROM document_pii p LEFT JOIN documents d ON d.id = p.document_id"
        " LEFT JOIN collections col ON col.id = d.collection_id WHERE p.value_hash IN (SELECT unnest(?::VARCHAR[]))"
        " ORDER BY p.document_id, p.char_start", [list(hashes)]).fetchall()
    return [dict(zip(fields, r)) for r in rows]


def findings_of_versions(con: Con, versions: Sequence[tuple[int, int]]) -> list[tuple[int, int, int, int | None, int, int]]:
    """(rowid, document id, version, chunk id, start, end) of the findings of these document versions."""
    if not versions:
        return []
    return con.execute(
        "SELECT rowid, document_id, version, chunk_id, char_start, char_end FROM document_pii"
        " WHERE (document_id, version) IN (SELECT (unnest(?::INTEGER[]), unnest(?::INTEGER[])))",
        [[v[0] for v in versions], [v[1] for v in versions]]).fetchall()


def move_finding(con: Con, rowid: int, chunk_id: int | None, start: int, end: int) -> None:
    """A finding of another value in a redacted text: its offsets and chunk where the redaction moved them."""
    con.execute("UPDATE document_pii SET chunk_id = ?, char_start = ?, char_end = ? WHERE rowid = ?",
                [chunk_id, start, end, rowid])
