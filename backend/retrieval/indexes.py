"""The open collection indexes of one process: opened once, checked against their manifest, reconciled, locked."""
from __future__ import annotations

import shutil
import threading
from dataclasses import asdict
from pathlib import Path

from backend.ingest import recovery
from backend.models import GroundworkError
from backend.retrieval.collection_index import CollectionIndex
from backend.retrieval.manifest import IndexManifest
from backend.store import collections as collection_store
from backend.store.db import Store


def _manifest_dict(manifest) -> dict:
    return manifest.to_dict() if hasattr(manifest, "to_dict") else asdict(manifest)


class IndexRegistry:
    """Every CollectionIndex this process has open, with one writer lock per collection (held for a whole
    ingest run, a delete or a move) and one index lock per collection (held while its FAISS/BM25 index is
    read or changed). Shared by a Platform and the platforms derived from it, so a collection is open once."""

    def __init__(self, store: Store, index_dir: Path):
        self.store = store
        self.index_dir = Path(index_dir)
        self._indexes: dict[int, CollectionIndex] = {}
        self._open_lock = threading.Lock()
        self._index_locks: dict[int, threading.RLock] = {}
        self._writer_locks: dict[int, threading.RLock] = {}
        self._locks_lock = threading.Lock()
        self.last_reconcile: dict[str, recovery.ReconcileReport] = {}

    def index_lock(self, collection_id: int) -> threading.RLock:
        with self._locks_lock:
            return self._index_locks.setdefault(collection_id, threading.RLock())

    def writer_lock(self, collection_id: int) -> threading.RLock:
        with self._locks_lock:
            return self._writer_locks.setdefault(collection_id, threading.RLock())

    def directory(self, collection_id: int) -> Path:
        # Keyed by id, not name, so renaming a collection never moves files.
        return self.index_dir / f"collection-{collection_id}"

    def loaded(self, collection_id: int) -> CollectionIndex | None:
        """The index if this process has opened it, else None (nothing is loaded)."""
        return self._indexes.get(collection_id)

    def open(self, row: dict, manifest: IndexManifest, settings) -> CollectionIndex:
        """Open (cached) the collection's index, check it was built like `manifest`, and reconcile it with DuckDB."""
        collection_id = row["id"]
        index = self._indexes.get(collection_id)
        if index is not None:
            return index
        with self._open_lock:
            index = self._indexes.get(collection_id)
            if index is not None:
                return index
            with self.store.cursor() as cur:
                recorded = collection_store.index_settings(cur, collection_id)
            if recorded:
                try:
                    IndexManifest.from_dict(recorded).check_compatible(manifest)
                except GroundworkError as exc:
                    raise GroundworkError(f"collection {row['name']!r}: {exc}") from None
            else:
                with self.store.transaction() as cur:
                    collection_store.set_index_settings(cur, collection_id, _manifest_dict(manifest))
            index = CollectionIndex.open(self.directory(collection_id), manifest, settings)
            self.last_reconcile[row["name"]] = recovery.reconcile(self.store, row, index, self.index_lock(collection_id))
            self._indexes[collection_id] = index
            return index

    def reconcile(self, row: dict, manifest: IndexManifest, settings) -> recovery.ReconcileReport:
        index = self.open(row, manifest, settings)
        return recovery.reconcile(self.store, row, index, self.index_lock(row["id"]))

    def drop(self, collection_id: int) -> None:
        """Forget the collection's index and delete its files (its rows are the caller's business)."""
        with self._open_lock, self.index_lock(collection_id):
            index = self._indexes.pop(collection_id, None)
            if index is not None:
                index.delete_directory()
            else:
                shutil.rmtree(self.directory(collection_id), ignore_errors=True)

    def bytes_on_disk(self, collection_id: int) -> int:
        path = self.directory(collection_id)
        if not path.exists():
            return 0
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())

    def clear(self) -> None:
        self._indexes.clear()
