"""One collection's dense and lexical indexes in one directory, with the manifest that guards them."""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from backend.models import GroundworkError, Hit
from backend.retrieval.dense import DenseIndex
from backend.retrieval.fusion import fuse_rankings
from backend.retrieval.lexical import LexicalIndex
from backend.retrieval.manifest import IndexManifest

MANIFEST_FILE = "manifest.json"
DENSE_FILE = "dense.faiss"
LEXICAL_DIR = "lexical"
MODES = ("bm25", "dense", "hybrid")
FUSIONS = ("rrf", "weighted")


class CollectionIndex:
    """Dense (FAISS) + lexical (BM25) index of one collection; every call is serialised by one lock."""

    def __init__(self, directory: Path, manifest: IndexManifest, dense: DenseIndex, lexical: LexicalIndex):
        self.directory = Path(directory)
        self.manifest = manifest
        self.dense = dense
        self.lexical = lexical
        self._lock = threading.RLock()

    @classmethod
    def open(cls, directory: Path, manifest: IndexManifest, settings) -> CollectionIndex:
        """Load the collection's index, or create an empty one; refuse one built with other settings."""
        directory = Path(directory)
        manifest_path = directory / MANIFEST_FILE
        if manifest_path.exists():
            try:
                stored = IndexManifest.from_dict(json.loads(manifest_path.read_text()))
            except (ValueError, TypeError) as exc:
                raise GroundworkError(f"index manifest {manifest_path} is unreadable: {exc}") from exc
            stored.check_compatible(manifest)
            dense_path, lexical_path = directory / DENSE_FILE, directory / LEXICAL_DIR
            if dense_path.exists():
                dense = DenseIndex.load(dense_path, stored.dim, exact_below=settings.faiss_exact_below, nprobe=settings.faiss_nprobe)
            else:
                dense = DenseIndex(stored.dim, exact_below=settings.faiss_exact_below, nprobe=settings.faiss_nprobe)
            if lexical_path.exists() or lexical_path.with_name(f".{LEXICAL_DIR}.old").exists():
                lexical = LexicalIndex.load(lexical_path)
                lexical.set_params(settings.bm25_k1, settings.bm25_b)
            else:
                lexical = cls._new_lexical(stored, settings)
            return cls(directory, stored, dense, lexical)
        directory.mkdir(parents=True, exist_ok=True)
        index = cls(
            directory,
            manifest,
            DenseIndex(manifest.dim, exact_below=settings.faiss_exact_below, nprobe=settings.faiss_nprobe),
            cls._new_lexical(manifest, settings),
        )
        index._write_manifest()  # recorded from the start, so a half-built collection is guarded too
        return index

    @staticmethod
    def _new_lexical(manifest: IndexManifest, settings) -> LexicalIndex:
        return LexicalIndex(manifest.bm25_stemmer, manifest.bm25_stopwords, settings.bm25_k1, settings.bm25_b)

    # --- mutation ------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray, texts: list[str]) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids) == len(vectors) == len(texts):
            raise GroundworkError(f"{len(ids)} ids, {len(vectors)} vectors and {len(texts)} texts: they must match")
        with self._lock:
            self.dense.add(ids, vectors)
            self.lexical.add(ids, texts)

    def remove(self, ids) -> None:
        with self._lock:
            self.dense.remove(ids)
            self.lexical.remove(ids)

    # --- queries -------------------------------------------------------------------------
    def ids(self) -> tuple[set[int], set[int]]:
        """(dense ids, lexical ids): the pipeline reconciles both with the store after a crash."""
        with self._lock:
            return {int(i) for i in self.dense.ids()}, {int(i) for i in self.lexical.ids()}

    def search(
        self,
        query: str,
        query_vec: np.ndarray | None,
        mode: str,
        k: int,
        candidate_k: int,
        fusion: str = "rrf",
        allowed_ids: set[int] | None = None,
        rrf_k: int = 60,
        dense_weight: float = 0.5,
    ) -> list[Hit]:
        """Top-k chunks (chunk=None) with each retriever's score and rank and the fused score."""
        if mode not in MODES:
            raise GroundworkError(f"unknown retrieval mode {mode!r}: use bm25, dense or hybrid")
        if fusion not in FUSIONS:
            raise GroundworkError(f"unknown fusion {fusion!r}: use rrf or weighted")
        if mode != "bm25" and query_vec is None:
            raise GroundworkError(f"{mode} retrieval needs the query vector")
        if k <= 0:
            return []
        depth = max(int(candidate_k), int(k))
        rankings: dict[str, list[tuple[int, float]]] = {}
        with self._lock:
            for retriever in ("bm25", "dense"):
                if mode in (retriever, "hybrid"):
                    rankings[retriever] = self.rank(retriever, query, query_vec, depth, allowed_ids)
        return fuse_rankings(rankings, mode, fusion, rrf_k=rrf_k, dense_weight=dense_weight, limit=k)

    def rank(self, retriever: str, query: str, query_vec: np.ndarray | None, depth: int,
             allowed_ids: set[int] | None = None) -> list[tuple[int, float]]:
        """One retriever's (chunk id, score) list, best first: 'bm25' reads the text, 'dense' the vector."""
        with self._lock:
            if retriever == "bm25":
                return self.lexical.search(query, depth, allowed_ids)
            if query_vec is None:
                raise GroundworkError("dense retrieval needs the query vector")
            return self.dense.search(query_vec, depth, allowed_ids)[0]

    def vectors(self, ids) -> dict[int, np.ndarray]:
        with self._lock:
            return self.dense.vectors(ids)

    def texts(self, ids) -> dict[int, str]:
        """The indexed text of each chunk id (what BM25 saw)."""
        with self._lock:
            return self.lexical.texts(ids)

    def tokenize_query(self, query: str) -> list[str]:
        return self.lexical.tokenize_query(query)

    # --- persistence ---------------------------------------------------------------------
    def _write_manifest(self) -> None:
        path = self.directory / MANIFEST_FILE
        tmp = path.with_name(f".{MANIFEST_FILE}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(self.manifest.to_dict(), indent=2))
        os.replace(tmp, path)

    def save(self) -> None:
        """Write both indexes (each atomically: temp then rename) and the manifest."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.dense.save(self.directory / DENSE_FILE)
            self.lexical.save(self.directory / LEXICAL_DIR)
            self._write_manifest()

    def stats(self) -> dict:
        with self._lock:
            on_disk = sum(f.stat().st_size for f in self.directory.rglob("*") if f.is_file()) if self.directory.exists() else 0
            return {
                "vectors": len(self.dense),
                "lexical_docs": len(self.lexical),
                "index_kind": self.dense.kind,
                "bytes_on_disk": on_disk,
                "lexical_segments": self.lexical.segment_sizes(),
                "manifest": self.manifest.to_dict(),
            }

    def delete_directory(self) -> None:
        """Drop the collection's index files (the store's rows are the caller's business)."""
        with self._lock:
            shutil.rmtree(self.directory, ignore_errors=True)
