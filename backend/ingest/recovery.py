"""Crash recovery: make a collection's FAISS and BM25 indexes hold exactly DuckDB's chunk ids, from stored embeddings."""
from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np

from backend.ingest.chunking import embedding_text
from backend.store import chunks as chunk_store
from backend.store.db import Store


@dataclass
class ReconcileReport:
    collection: str
    db_chunks: int
    dense_before: int
    lexical_before: int
    added: int = 0
    removed: int = 0

    @property
    def repaired(self) -> bool:
        return bool(self.added or self.removed)

    def to_dict(self) -> dict:
        return {**asdict(self), "repaired": self.repaired}


def _id_set(ids) -> set[int]:
    if ids is None:
        return set()
    if isinstance(ids, (set, frozenset)):
        return {int(i) for i in ids}
    return set(np.asarray(ids, dtype=np.int64).reshape(-1).tolist())


def reconcile(store: Store, collection: dict, index, index_lock: threading.RLock | None = None) -> ReconcileReport:
    """Compare DuckDB's chunk ids with the index's dense and lexical ids and repair the index.

    DuckDB is the source of truth (its transaction commits before the indexes are touched), so ids only in
    an index are removed, and ids missing from either index are (re-)added with the embedding stored in
    DuckDB: no re-embedding. The index is saved when anything changed.
    """
    with index_lock or nullcontext():
        with store.cursor() as cur:
            db_ids = _id_set(chunk_store.chunk_ids(cur, collection["id"]))
        dense_ids, lexical_ids = index.ids()
        dense, lexical = _id_set(dense_ids), _id_set(lexical_ids)
        report = ReconcileReport(collection["name"], len(db_ids), len(dense), len(lexical))
        in_any = dense | lexical
        missing = db_ids - (dense & lexical)
        # A chunk in only one of the two indexes is removed from both and added again whole.
        to_remove = (in_any - db_ids) | (missing & in_any)
        if to_remove:
            index.remove(sorted(to_remove))
            report.removed = len(in_any - db_ids)
        if missing:
            with store.cursor() as cur:
                ids, vectors, texts, titles, headings = chunk_store.chunk_index_rows(cur, sorted(missing))
            index.add(ids, vectors, [embedding_text(t, h, x) for x, t, h in zip(texts, titles, headings)])
            report.added = len(ids)
        if to_remove or missing:
            index.save()
    return report
