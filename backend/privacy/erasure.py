"""Erase one person's data everywhere: each lane's tables in one transaction (DuckDB first), then the indexes and
files; a record that must stay is redacted in place, derived data is deleted, the audit log is never touched."""
from __future__ import annotations

import io
import json
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backend.ingest.chunking import embedding_text
from backend.ingest.clean import content_hash
from backend.ingest.dedupe import minhash_signature
from backend.privacy.finder import SubjectFindings, scan_findings_table, scan_originals
from backend.privacy.subject import Redaction, SubjectRequest
from backend.store import chunks as chunk_store
from backend.store import collections as collection_store
from backend.store import document_files as document_file_store
from backend.store import subject_tables as tables
from backend.store.rows import Con, parse_json
from backend.store.sequences import allocate_ids

# After the corpus (whose indexes must follow its transaction), one transaction per write lane.
LANES_AFTER_CORPUS = ("chat", "telemetry", "evaluation", "gateway")


@dataclass
class ErasureReport:
    touched: dict[str, dict[str, int]] = field(default_factory=dict)  # store -> table -> rows changed or deleted
    chunks_replaced: int = 0
    collections_reindexed: list[str] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # what happened to files: "uploads rewritten": 2, ...

    def count(self, store: str, table: str, n: int = 1) -> None:
        if n:
            self.touched.setdefault(store, {})
            self.touched[store][table] = self.touched[store].get(table, 0) + n

    def count_file(self, what: str) -> None:
        self.files[what] = self.files.get(what, 0) + 1


# --- cells --------------------------------------------------------------------------------------------------
def redacted_cell(value: Any, kind: str, request: SubjectRequest) -> Any:
    """The cell with every identifier replaced (the same type back), or the value itself when nothing matched."""
    if value is None:
        return None
    if kind == "json":
        parsed = parse_json(value) if isinstance(value, str) else value
        return json.dumps(_redacted_json(parsed, request), default=str)
    if kind == "list":
        return [request.redact(v) if isinstance(v, str) else v for v in value]
    if kind == "blob":
        return request.redact(bytes(value).decode("utf-8", errors="surrogateescape")).encode("utf-8", "surrogateescape")
    return request.redact(str(value))


def _redacted_json(value: Any, request: SubjectRequest) -> Any:
    if isinstance(value, str):
        return request.redact(value)
    if isinstance(value, list):
        return [_redacted_json(v, request) for v in value]
    if not isinstance(value, dict):
        return value
    out = {request.redact(str(k)): _redacted_json(v, request) for k, v in value.items()}
    if isinstance(out.get("context"), str) and isinstance(out.get("quote"), str) and "quote_start" in out:
        # A citation: its quote's offsets point into its context, which may just have changed length.
        start = out["context"].find(out["quote"])
        if start < 0:
            out["context"], start = out["quote"], 0
        out["quote_start"], out["quote_end"] = start, start + len(out["quote"])
    return out


def erase_lane_tables(cur: Con, request: SubjectRequest, lane: str, report: ErasureReport) -> dict[str, set]:
    """Redact or delete, by each table's spec, every matching cell of the lane's tables; returns the changed keys
    per table. Rows are read, then written, in the caller's transaction."""
    changed: dict[str, set] = {}
    for table, columns in tables.text_columns(cur).items():
        spec, _ = tables.spec_for(table)
        if spec.lane != lane or spec.action == "special":
            continue
        gone: set = set()
        for column, kind in columns.items():
            action, _ = spec.column_action(column)
            if action not in ("redact", "delete") or kind == "composite":
                continue
            rows = list(tables.candidate_rows(cur, spec, column, kind, request.needles(), request.digit_needles()))
            for row in rows:
                key = row["key"]
                if key in gone:
                    continue
                new = redacted_cell(row["value"], kind, request)
                if _same(new, row["value"], kind):
                    continue
                if action == "delete":
                    tables.delete_row(cur, spec, key)
                    gone.add(key)
                else:
                    tables.update_cell(cur, spec, key, column, new)
                changed.setdefault(table, set()).add(key)
                report.count(spec.store, table)
    return changed


def _same(new: Any, old: Any, kind: str) -> bool:
    if kind == "json":
        return new == json.dumps(parse_json(old) if isinstance(old, str) else old, default=str)
    if kind == "blob":
        return new == bytes(old)
    return new == old


# --- the corpus -----------------------------------------------------------------------------------------------
@dataclass
class _Plan:
    versions: list[tuple] = field(default_factory=list)  # (document id, version, text, sections JSON, hash, minhash)
    hashes: dict[int, str] = field(default_factory=dict)  # document id -> its current version's new hash
    removed: dict[int, list[int]] = field(default_factory=dict)  # collection id -> old chunk ids
    added: dict[int, list[dict]] = field(default_factory=dict)  # collection id -> new chunk rows (no id yet)
    index_texts: dict[int, list[str]] = field(default_factory=dict)  # collection id -> what the indexes see
    redactions: dict[tuple[int, int], Redaction] = field(default_factory=dict)  # (document id, version) -> redaction
    replaced_versions: set[tuple[int, int]] = field(default_factory=set)  # versions whose chunks get new ids


def _plan(request: SubjectRequest, docs: dict[int, dict], versions: list, chunks: list[dict], counter) -> _Plan:
    plan = _Plan()
    redactions: dict[tuple[int, int], tuple[str, Redaction]] = {}
    for document_id, version, text, sections in versions:
        redaction = Redaction.of(text, request.find(text))
        old_sections = parse_json(sections) or []
        new_sections = [[redaction.offset(s), redaction.offset(e, end=True), page, [request.redact(h) for h in path]]
                        for s, e, page, path in old_sections]
        if not redaction.matches and new_sections == old_sections:
            continue
        redactions[(document_id, version)] = (text, redaction)
        plan.redactions[(document_id, version)] = redaction
        digest = content_hash(redaction.text)
        plan.versions.append((document_id, version, redaction.text, json.dumps(new_sections), digest,
                              minhash_signature(redaction.text)))
        if docs[document_id]["version"] == version:
            plan.hashes[document_id] = digest
    for chunk in chunks:
        title = docs[chunk["document_id"]]["title"]
        new_title = request.redact(title)
        text, start, end = chunk["text"], chunk["char_start"], chunk["char_end"]
        new_text = request.redact(text)
        known = redactions.get((chunk["document_id"], chunk["version"]))
        if known is not None:
            source, redaction = known
            start, end = redaction.offset(chunk["char_start"]), redaction.offset(chunk["char_end"], end=True)
            if source[chunk["char_start"]:chunk["char_end"]] == text:  # a slice: a name cut in two goes whole
                new_text = redaction.text[start:end]
        headings = [request.redact(h) for h in chunk["heading_path"] or []]
        if new_text == text and headings == list(chunk["heading_path"] or []) and new_title == title:
            continue
        collection = chunk["collection_id"]
        plan.replaced_versions.add((chunk["document_id"], chunk["version"]))
        plan.removed.setdefault(collection, []).append(chunk["id"])
        plan.added.setdefault(collection, []).append({**chunk, "text": new_text, "char_start": start, "char_end": end,
                                                      "heading_path": headings, "token_count": counter.count(new_text)})
        plan.index_texts.setdefault(collection, []).append(embedding_text(new_title, headings, new_text))
    return plan


def _affected(findings: SubjectFindings, store) -> tuple[set[int], set[int]]:
    """(document ids, collection ids) the corpus part of an erasure changes or re-indexes."""
    documents = {int(o.key[0]) for o in findings.occurrences
                 if o.table in ("documents", "document_versions", "document_files") and o.key}
    chunk_ids = [int(o.key[0]) for o in findings.occurrences if o.table == "chunks" and o.key]
    with store.cursor() as cur:
        documents |= set(chunk_store.chunk_documents(cur, chunk_ids).values()) if chunk_ids else set()
        collections = {d["collection_id"] for d in tables.document_rows(cur, sorted(documents))}
    collections |= {int(o.key[0]) for o in findings.occurrences if o.store == "index files" and o.key[0] is not None}
    return documents, collections


def erase_corpus(platform, request: SubjectRequest, findings: SubjectFindings, report: ErasureReport) -> None:
    """Documents, chunks, stored originals, ingest history and the corpus lane's other tables in ONE transaction,
    under the writer lock of every collection concerned; then FAISS and BM25, which recovery can always rebuild
    from DuckDB (new chunk ids: an index that missed the change still holds the old ids, which reconcile removes)."""
    store, indexes = platform.store, platform.indexes
    documents, collections = _affected(findings, store)
    with ExitStack() as stack:
        for collection_id in sorted(collections):
            stack.enter_context(indexes.writer_lock(collection_id))
        with store.cursor() as cur:
            rows = tables.collection_ids(cur)
        open_indexes = {cid: platform.corpus.open_index(rows[cid]) for cid in sorted(collections) if cid in rows}
        with store.cursor() as cur:
            docs = {d["id"]: d for d in tables.document_rows(cur, sorted(documents))}
            plan = _plan(request, docs, tables.version_rows(cur, sorted(docs)), tables.chunk_rows(cur, sorted(docs)),
                         platform.counter)
        vectors = {cid: platform.embedder.encode(texts, batch_size=platform.settings.embedding_batch_size)
                   for cid, texts in plan.index_texts.items()}
        new_ids: dict[int, list[int]] = {}
        with store.transaction("corpus") as cur:
            for document_id, version, text, sections, digest, minhash in plan.versions:
                tables.update_version(cur, document_id, version, text, sections, digest, minhash)
            report.count("documents", "document_versions", len(plan.versions))
            for document_id, digest in plan.hashes.items():
                tables.update_document_hash(cur, document_id, digest)
            erase_lane_tables(cur, request, "corpus", report)
            _erase_originals(cur, request, report)
            pii, _ = scan_findings_table(cur, request, platform.settings.data_dir)
            for occurrence in {o.key: o for o in pii}.values():
                report.count("personal-data findings", "document_pii", tables.delete_row(
                    cur, tables.SPECS["document_pii"], occurrence.key))
            for collection_id, removed in plan.removed.items():
                tables.delete_chunks(cur, removed)
                added = plan.added[collection_id]
                new_ids[collection_id] = allocate_ids(cur, "chunk_id_seq", len(added))
                chunk_store.insert_chunks(cur, chunk_store.chunk_table(
                    new_ids[collection_id], [c["document_id"] for c in added], [c["version"] for c in added],
                    collection_id, added[0]["tenant"], [c["ordinal"] for c in added], [c["text"] for c in added],
                    [c["token_count"] for c in added], [c["char_start"] for c in added],
                    [c["char_end"] for c in added], [c["page"] for c in added],
                    [c["heading_path"] for c in added], vectors[collection_id],
                    ocr_confidences=[c["ocr_confidence"] for c in added]))
                collection_store.bump_index_version(cur, collection_id)
                report.count("chunks", "chunks", len(removed))
                report.chunks_replaced += len(removed)
            _move_findings(cur, plan, {old: new for cid, removed in plan.removed.items()
                                       for old, new in zip(removed, new_ids[cid])})
        for collection_id in sorted(collections):
            index = open_indexes.get(collection_id)
            if index is None:  # an index directory of no collection (left by a crash): nothing may keep it
                indexes.drop(collection_id)
                report.count_file("index directories of no collection removed")
                continue
            with indexes.index_lock(collection_id):
                if collection_id in plan.removed:
                    index.remove(plan.removed[collection_id])
                    index.add(np.asarray(new_ids[collection_id], dtype=np.int64), vectors[collection_id],
                              plan.index_texts[collection_id])
                _rebuild_lexical(index, store, request)
                index.save()
            report.collections_reindexed.append(rows[collection_id]["name"])
    _erase_uploads(request, findings, report)
    _forget_cached_files()


def _move_findings(cur: Con, plan: _Plan, chunk_ids: dict[int, int]) -> None:
    """Findings of other values (part of document_pii) in a redacted version: offsets and chunk ids kept true."""
    if not tables.table_exists(cur, "document_pii"):
        return
    for rowid, document_id, version, chunk_id, start, end in tables.findings_of_versions(
            cur, sorted(set(plan.redactions) | plan.replaced_versions)):
        redaction = plan.redactions.get((document_id, version))
        if redaction is not None:
            start, end = redaction.offset(start), redaction.offset(end, end=True)
        tables.move_finding(cur, rowid, chunk_ids.get(chunk_id, chunk_id) if chunk_id is not None else None, start, end)


def _rebuild_lexical(index, store, request: SubjectRequest) -> None:
    """BM25 built afresh from the live chunks: a removed chunk's text would otherwise stay in a segment's files (a
    tombstone) until the next merge. A live text that still names the person is taken from DuckDB again."""
    from backend.retrieval.lexical import LexicalIndex

    old = index.lexical
    texts = old.texts(old.ids())
    stale = sorted(i for i, text in texts.items() if request.find(text))
    if stale:
        with store.cursor() as cur:
            ids, _, chunk_texts, titles, headings = chunk_store.chunk_index_rows(cur, stale)
        for chunk_id in stale:
            texts.pop(chunk_id)
        texts.update({int(i): embedding_text(t, h, x) for i, x, t, h in zip(ids, chunk_texts, titles, headings)})
        index.dense.remove([i for i in stale if i not in texts])  # in an index, not in DuckDB: gone from both
    fresh = LexicalIndex(old.stemmer, old.stopwords, old.k1, old.b)
    order = sorted(texts)
    fresh.add(np.asarray(order, dtype=np.int64), [texts[i] for i in order])
    index.lexical = fresh


def _erase_originals(cur: Con, request: SubjectRequest, report: ErasureReport) -> None:
    for occurrence in {o.key: o for o in scan_originals(cur, request)}.values():
        document_id, version = occurrence.key
        if occurrence.action == "delete":
            tables.delete_original(cur, document_id, version)
        else:
            content = document_file_store.file_content(cur, document_id, version) or b""
            tables.replace_original(cur, document_id, version, rewrite_original(content, request))
        report.count("stored originals", "document_files")


def rewrite_original(content: bytes, request: SubjectRequest) -> bytes:
    """A CSV or XLSX original with the person's values replaced (a workbook keeps its values, not its formulas)."""
    if not content.startswith(b"PK"):
        try:
            return request.redact(content.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return request.redact(content.decode("latin-1")).encode("latin-1")
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = str(int(value)) if float(value).is_integer() else str(value)  # a phone kept as a number
                if isinstance(value, str) and request.find(value):
                    cell.value = request.redact(value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _erase_uploads(request: SubjectRequest, findings: SubjectFindings, report: ErasureReport) -> None:
    """Uploaded files, after DuckDB: a text file rewritten (temp file, then rename), anything else deleted."""
    actions: dict[str, str] = {}
    for o in findings.occurrences:
        if o.store == "uploaded files":
            path = o.key[0]
            actions[path] = "delete" if "delete" in (o.action, actions.get(path)) else o.action
    for path_text, action in sorted(actions.items()):
        path = Path(path_text)
        if not path.exists():
            continue
        if action == "delete":
            path.unlink()
            report.count_file("uploaded files deleted")
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="surrogateescape")
        tmp = path.with_name(f".{path.name}.dsr-{os.getpid()}")
        tmp.write_bytes(request.redact(text).encode("utf-8", errors="surrogateescape"))
        os.replace(tmp, path)
        report.count_file("uploaded files rewritten")


def _forget_cached_files() -> None:
    """In-process caches of rendered pages and parsed tables may hold the old text: dropped."""
    from backend.corpus import page_images
    from backend.tools.table_rows import TABLE_CACHE

    page_images.clear_cache()
    TABLE_CACHE.clear()


# --- the other lanes ------------------------------------------------------------------------------------------
def erase_lanes(store, request: SubjectRequest, report: ErasureReport) -> None:
    """Chat, telemetry, evaluation and gateway tables, each lane in one transaction of its own."""
    for lane in LANES_AFTER_CORPUS:
        with store.transaction(lane) as cur:
            changed = erase_lane_tables(cur, request, lane, report)
            if lane == "telemetry":
                traces = {key[0] for table in ("traces", "spans") for key in changed.get(table, ())}
                report.count("traces", "trace_embeddings",
                             tables.delete_where_in(cur, "trace_embeddings", "trace_id", sorted(traces)))
