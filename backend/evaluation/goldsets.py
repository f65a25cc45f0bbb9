"""Gold sets: parsing and validating question files, BEIR and traffic imports, snapshots in DuckDB."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Callable

from backend.context import RequestContext
from backend.evaluation import access
from backend.jsonl import json_objects
from backend.models import InputError, NotFound
from backend.settings import PROJECT_ROOT
from backend.store.rows import Scope, scope_condition

DEMO_GOLD_PATH = PROJECT_ROOT / "data" / "gold" / "demo.jsonl"
KINDS = ("demo", "beir", "upload", "traffic", "synthetic")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")

# Accepted spellings of each field in uploaded files (first match wins).
_QUESTION = ("question", "query", "user_input")
_ANSWER = ("reference_answer", "answer", "reference", "ground_truth")
_DOCUMENTS = ("relevant_document_ids", "relevant_ids", "relevant", "documents", "document", "doc_ids")
_EVIDENCE = ("evidence", "reference_contexts", "contexts")


@dataclass
class GoldItem:
    """One question with what a good system should find (relevant documents) and say (reference answer)."""

    id: str
    question: str
    reference_answer: str = ""
    relevant: dict[str, int] = field(default_factory=dict)  # document key (file name, source, BEIR id) -> grade
    evidence: list[str] = field(default_factory=list)  # verbatim quotes that support the answer
    answerable: bool = True
    tags: list[str] = field(default_factory=list)
    line: int = 0  # where it came from in its file (1-based), for error messages


@dataclass
class GoldSet:
    name: str
    kind: str
    collection: str
    items: list[GoldItem]
    origin: str = ""

    @property
    def content_hash(self) -> str:
        payload = [
            [i.id, i.question, i.reference_answer, sorted(i.relevant.items()), i.evidence, i.answerable]
            for i in self.items
        ]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InputError(f"gold set name {name!r}: use 1-80 letters, digits, '_', '-', '.', ':' (starting with a letter or digit)")
    return name


# --- parsing -------------------------------------------------------------------------------
def _pick(row: dict, names: tuple[str, ...]):
    for name in names:
        if name in row and row[name] not in (None, ""):
            return row[name]
    return None


def _as_list(value, where: str, field_name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;|]", value) if part.strip()]
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, (str, int)) for v in value):
            raise InputError(f"{where}: field '{field_name}' must be a list of strings")
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, int):
        return [str(value)]
    raise InputError(f"{where}: field '{field_name}' must be a string or a list, got {type(value).__name__}")


def _relevant(value, where: str) -> dict[str, int]:
    if isinstance(value, dict):
        out = {}
        for key, grade in value.items():
            if not isinstance(grade, (int, float)) or isinstance(grade, bool):
                raise InputError(f"{where}: field 'relevant' grade of {key!r} must be a number")
            if grade > 0:
                out[str(key)] = int(grade)
        return out
    return {doc: 1 for doc in _as_list(value, where, "relevant_document_ids")}


def _bool(value, where: str, field_name: str) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise InputError(f"{where}: field '{field_name}' must be true or false, got {value!r}")


def item_from_record(row: dict, line: int, where: str) -> GoldItem:
    """Validate one record (a JSONL object or a CSV row) into a GoldItem; errors name the line and field."""
    question = _pick(row, _QUESTION)
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"{where}: field 'question' is missing or empty")
    answer = _pick(row, _ANSWER)
    if answer is not None and not isinstance(answer, str):
        raise InputError(f"{where}: field 'reference_answer' must be a string")
    relevant = _relevant(_pick(row, _DOCUMENTS), where)
    answerable = _bool(row.get("answerable"), where, "answerable")
    if answerable and not relevant and not (answer or "").strip():
        raise InputError(f"{where}: needs 'reference_answer' or 'relevant_document_ids' (nothing to score against)")
    item_id = row.get("id", row.get("_id"))
    return GoldItem(
        id=str(item_id).strip() if item_id not in (None, "") else f"q{line}",
        question=question.strip(),
        reference_answer=(answer or "").strip(),
        relevant=relevant,
        evidence=_as_list(_pick(row, _EVIDENCE), where, "evidence"),
        answerable=answerable,
        tags=_as_list(row.get("tags"), where, "tags"),
        line=line,
    )


def _check_unique(items: list[GoldItem], label: str) -> None:
    seen: dict[str, int] = {}
    for item in items:
        if item.id in seen:
            raise InputError(f"{label} line {item.line}: id {item.id!r} repeats line {seen[item.id]}")
        seen[item.id] = item.line


def parse_jsonl(text: str, label: str) -> list[GoldItem]:
    items = [item_from_record(row, number, f"{label} line {number}")
             for number, row in json_objects(text, lambda n: f"{label} line {n}")]
    if not items:
        raise InputError(f"{label}: no questions (the file is empty)")
    _check_unique(items, label)
    return items


def parse_csv(text: str, label: str) -> list[GoldItem]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InputError(f"{label}: no questions (the file is empty)")
    reader.fieldnames = header
    if not any(name in header for name in _QUESTION):
        raise InputError(f"{label}: missing column 'question' (header has: {', '.join(header)})")
    if not any(name in header for name in _ANSWER + _DOCUMENTS):
        raise InputError(f"{label}: missing column 'reference_answer' or 'relevant_document_ids' (header has: {', '.join(header)})")
    items = []
    for row in reader:
        number = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        items.append(item_from_record({k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}, number, f"{label} line {number}"))
    if not items:
        raise InputError(f"{label}: no questions (only a header)")
    _check_unique(items, label)
    return items


def parse_gold_text(text: str, filename: str) -> list[GoldItem]:
    """Parse an uploaded CSV or JSONL by its file name's extension."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return parse_jsonl(text, filename)
    if suffix == ".csv":
        return parse_csv(text, filename)
    raise InputError(f"{filename}: gold files must be .csv or .jsonl")


def read_gold_file(path: Path | str, name: str | None = None, collection: str = "demo", kind: str = "upload") -> GoldSet:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: gold file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    items = parse_gold_text(text, path.name)
    return GoldSet(name=check_name(name or path.stem), kind=kind, collection=collection, items=items, origin=str(path))


def demo_goldset(collection: str = "demo") -> GoldSet:
    # Gold set names are one namespace across tenants: the demo set of another collection is named after it.
    name = "demo" if collection == "demo" else f"demo-{collection}"
    return read_gold_file(DEMO_GOLD_PATH, name=name, collection=collection, kind="demo")


def beir_goldset(beir_dir: Path | str, split: str, collection: str, name: str | None = None, limit: int | None = None) -> GoldSet:
    """Queries with qrels in `split` of a BEIR dataset, read with the shared BEIR loader."""
    from backend.evaluation.beir import load_beir

    dataset = load_beir(Path(beir_dir), split)
    items = []
    for number, (qid, judged) in enumerate(sorted(dataset.qrels.items()), start=1):
        relevant = {str(doc): int(grade) for doc, grade in judged.items() if grade > 0}
        if not relevant or qid not in dataset.queries:
            continue
        items.append(GoldItem(id=str(qid), question=dataset.queries[qid], relevant=relevant, line=number))
        if limit and len(items) >= limit:
            break
    if not items:
        raise InputError(f"{beir_dir}: split {split!r} has no judged queries")
    return GoldSet(
        name=check_name(name or f"{Path(beir_dir).name}-{split}"), kind="beir", collection=collection,
        items=items, origin=f"{beir_dir} ({split})",
    )


# --- matching gold documents to the corpus --------------------------------------------------
def document_keys(source_map: dict[int, str]) -> dict[str, int]:
    """Every name a gold file may use for a document: its source as stored, and its file name."""
    keys: dict[str, int] = {}
    for doc_id, source in source_map.items():
        keys.setdefault(PurePath(str(source)).name, doc_id)
        keys[str(source)] = doc_id
    return keys


def resolve_relevant(item: GoldItem, keys: dict[str, int]) -> dict[int, int]:
    return {keys[doc]: grade for doc, grade in item.relevant.items() if doc in keys}


def check_against_corpus(gold: GoldSet, keys: dict[str, int]) -> None:
    """Every relevant document must exist in the collection, else the scores would silently be zero."""
    if not keys:
        raise InputError(f"collection {gold.collection!r} has no documents: ingest it first")
    for item in gold.items:
        missing = [doc for doc in item.relevant if doc not in keys]
        if missing:
            where = f"{PurePath(gold.origin).name or gold.name} line {item.line}" if item.line else f"{gold.name} item {item.id}"
            raise InputError(f"{where}: document {missing[0]!r} is not in collection {gold.collection!r}")


# --- snapshots in DuckDB ------------------------------------------------------------------
def save_goldset(store, gold: GoldSet, writable: Scope) -> None:
    """Replace the stored snapshot of this gold set in one transaction (never half-written).

    A stored set of the same name is replaced only when its collection is in `writable` (the caller's collections):
    names are one namespace, and another tenant's set must neither be overwritten nor shown to exist.
    """
    if gold.kind not in KINDS:
        raise InputError(f"gold set kind {gold.kind!r}: use one of {', '.join(KINDS)}")
    check_name(gold.name)
    rows = [
        [gold.name, i.id, n, i.question, i.reference_answer, json.dumps(i.relevant), json.dumps(i.evidence),
         i.answerable, json.dumps(i.tags)]
        for n, i in enumerate(gold.items)
    ]
    with store.transaction("evaluation") as cur:
        existing = cur.execute("SELECT collection FROM eval_gold_sets WHERE name = ?", [gold.name]).fetchone()
        if existing is not None and not access.in_scope(writable, existing[0]):
            raise InputError(f"gold set name {gold.name!r} is already taken: choose another name", field="name")
        cur.execute("DELETE FROM eval_gold_items WHERE gold_set = ?", [gold.name])
        cur.execute("DELETE FROM eval_gold_sets WHERE name = ?", [gold.name])
        cur.execute(
            "INSERT INTO eval_gold_sets (name, kind, collection, origin, content_hash, n_items) VALUES (?, ?, ?, ?, ?, ?)",
            [gold.name, gold.kind, gold.collection, gold.origin, gold.content_hash, len(gold.items)],
        )
        if rows:
            cur.executemany("INSERT INTO eval_gold_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def load_goldset(store, name: str, scope: Scope) -> GoldSet:
    """The stored gold set if its collection is in `scope`; else the one 'not found' an unknown name gets."""
    head = store.query_dicts("SELECT * FROM eval_gold_sets WHERE name = ?", [name])
    if not head or not access.in_scope(scope, head[0]["collection"]):
        known = ", ".join(g["name"] for g in list_goldsets(store, scope)) or "none stored yet"
        raise NotFound(f"gold set {name!r} not found (stored: {known}; or give a .jsonl/.csv path, 'demo' or beir:DIR)",
                       field="gold_set")
    rows = store.query_dicts("SELECT * FROM eval_gold_items WHERE gold_set = ? ORDER BY ordinal", [name])
    items = [
        GoldItem(
            id=r["item_id"], question=r["question"], reference_answer=r["reference_answer"] or "",
            relevant=json.loads(r["relevant"] or "{}"), evidence=json.loads(r["evidence"] or "[]"),
            answerable=bool(r["answerable"]), tags=json.loads(r["tags"] or "[]"), line=r["ordinal"] + 1,
        )
        for r in rows
    ]
    g = head[0]
    return GoldSet(name=g["name"], kind=g["kind"], collection=g["collection"], items=items, origin=g["origin"] or "")


def readable_goldsets(platform, ctx: RequestContext) -> list[dict]:
    """The gold sets of the collections the caller may read, newest first."""
    return list_goldsets(platform.store, access.scope(platform, ctx))


def readable_goldset(platform, name: str, ctx: RequestContext) -> GoldSet:
    """A stored gold set of a collection the caller may read (else 'not found', as for an unknown name)."""
    return load_goldset(platform.store, name, access.scope(platform, ctx))


def list_goldsets(store, scope: Scope) -> list[dict]:
    """The gold sets of the collections in `scope` (None: every one), newest first."""
    condition, params = scope_condition(scope, "collection")
    return store.query_dicts(
        "SELECT name, kind, collection, n_items, origin, content_hash, created_at FROM eval_gold_sets"
        f" WHERE {condition or 'TRUE'} ORDER BY created_at DESC, name", params)


# --- production traffic --------------------------------------------------------------------
def traffic_goldset(store, collection: str, name: str, limit: int = 50, only_rated: bool = False, seed: int = 0) -> GoldSet:
    """Questions sampled from stored traces (already redacted), with feedback where users gave it.

    An answer users rated thumbs-up becomes the reference answer; other questions carry no reference and
    are scored on retrieval-free metrics only (latency, cost, and the LLM judge when one is configured).
    """
    if limit < 1:
        raise InputError(f"limit: must be at least 1, got {limit}")
    rows = store.query_dicts(
        """
        WITH asked AS (
            SELECT t.trace_id, trim(t.question) AS question, t.answer, t.start_time,
                   f.score AS feedback, coalesce(t.no_answer, false) AS no_answer,
                   row_number() OVER (PARTITION BY lower(trim(t.question)) ORDER BY f.score DESC NULLS LAST, t.start_time DESC) AS nth
            FROM traces t LEFT JOIN feedback f ON f.trace_id = t.trace_id
            WHERE t.collection = ? AND t.status = 'ok' AND coalesce(trim(t.question), '') <> ''
        )
        SELECT * FROM asked WHERE nth = 1 AND (? = false OR feedback IS NOT NULL)
        ORDER BY hash(trace_id || ?::VARCHAR) LIMIT ?
        """,
        [collection, only_rated, seed, limit],
    )
    if not rows:
        raise InputError(
            f"no {'rated ' if only_rated else ''}traffic for collection {collection!r} yet: ask questions in the chat first"
        )
    items = []
    for number, row in enumerate(rows, start=1):
        rated_up = row["feedback"] == 1 and not row["no_answer"]
        tag = {1: "feedback:up", 0: "feedback:down"}.get(row["feedback"], "feedback:none")
        items.append(GoldItem(
            id=row["trace_id"][:16], question=row["question"], reference_answer=(row["answer"] or "") if rated_up else "",
            tags=[tag, "traffic"], line=number,
        ))
    return GoldSet(name=check_name(name), kind="traffic", collection=collection, items=items,
                   origin=f"{len(items)} traced questions of {collection!r}{' with feedback' if only_rated else ''}")


def register_goldset(platform, gold: GoldSet, ctx: RequestContext | None = None) -> GoldSet:
    """Check a gold set against its collection's documents, then snapshot it (replacing one of the same name).
    The caller needs write rights on the collection (an operator or admin of its tenant)."""
    ctx = access.context(platform, ctx)
    access.require_writable(platform, gold.collection, ctx)
    check_against_corpus(gold, document_keys(platform.corpus.document_source_map(gold.collection, ctx)))
    save_goldset(platform.store, gold, access.scope(platform, ctx))
    return gold


def build_goldset(platform, collection: str, build: Callable[[], GoldSet], ctx: RequestContext | None = None) -> GoldSet:
    """Authorise the caller on `collection` first, then build the set (which may read the collection's traffic or
    documents) and register it: nothing of a collection the caller may not change is read."""
    access.require_writable(platform, collection, ctx)
    gold = build()
    if gold.collection != collection:
        raise InputError(f"gold set {gold.name!r} is for collection {gold.collection!r}, not {collection!r}",
                         field="collection")
    return register_goldset(platform, gold, ctx)
