"""FAISS vector index keyed by chunk id: exact inner product when small, IVF when large."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import cast

import faiss
import numpy as np

from backend.models import GroundworkError

# k-means on this many points per list is plenty for IVF centroids and keeps training to seconds.
_TRAIN_POINTS_PER_LIST = 64
# Below this many queries per call, search runs on one thread (faiss itself goes sequential below 20).
_PARALLEL_QUERIES = 20
# Rebuild the IVF (new nlist, new centroids) once the collection has grown this much since training.
_RETRAIN_GROWTH = 4.0


def _as_ids(ids) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(list(ids) if isinstance(ids, (set, frozenset)) else ids, dtype=np.int64).reshape(-1))


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise GroundworkError(f"vectors have shape {matrix.shape}, the index expects dimension {dim}")
    return matrix


class DenseIndex:
    """Vectors keyed by int64 chunk ids; inner product on L2-normalised vectors is cosine similarity."""

    def __init__(self, dim: int, exact_below: int = 200_000, nprobe: int = 32):
        self.dim = int(dim)
        self.exact_below = int(exact_below)
        self.nprobe = int(nprobe)
        self._index: faiss.IndexIDMap2 | faiss.IndexIVF = self._new_flat()
        self._trained_on = 0  # vectors in the collection when the IVF was trained (0 = flat)

    # --- structure -----------------------------------------------------------------------
    def _new_flat(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        ids = self.ids()
        if len(ids) == 0:
            return ids, np.zeros((0, self.dim), dtype=np.float32)
        if isinstance(self._index, faiss.IndexIDMap2):  # flat
            flat = cast(faiss.IndexFlat, faiss.downcast_index(self._index.index))
            return ids, faiss.vector_to_array(flat.codes).view(np.float32).reshape(-1, self.dim).copy()
        return ids, self._index.reconstruct_batch(ids)

    def _build_ivf(self, ids: np.ndarray, vectors: np.ndarray) -> faiss.IndexIVF:
        n = len(ids)
        nlist = max(1, int(4 * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.max_points_per_centroid = _TRAIN_POINTS_PER_LIST
        rng = np.random.default_rng(0)
        sample = vectors if n <= nlist * _TRAIN_POINTS_PER_LIST else vectors[rng.choice(n, nlist * _TRAIN_POINTS_PER_LIST, replace=False)]
        ivf.train(sample)
        # A hashtable direct map keeps reconstruct() and remove_ids() working by chunk id.
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # faiss's stub lacks DirectMap
        ivf.add_with_ids(vectors, ids)
        ivf.nprobe = self.nprobe
        self._trained_on = n
        return ivf

    def _maybe_restructure(self) -> None:
        n = len(self)
        if self.kind == "flat" and n > self.exact_below:
            ids, vectors = self._all_vectors()
            self._index = self._build_ivf(ids, vectors)
        elif self.kind == "ivf" and n > _RETRAIN_GROWTH * self._trained_on:
            ids, vectors = self._all_vectors()
            self._index = self._build_ivf(ids, vectors)
        elif self.kind == "ivf" and n <= self.exact_below // 2:
            # Shrunk well below the threshold (hysteresis avoids flapping): exact search is cheap again.
            ids, vectors = self._all_vectors()
            flat = self._new_flat()
            flat.add_with_ids(vectors, ids)
            self._index, self._trained_on = flat, 0

    # --- mutation ------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = _as_ids(ids)
        matrix = _as_matrix(vectors, self.dim)
        if len(ids) != len(matrix):
            raise GroundworkError(f"{len(ids)} ids but {len(matrix)} vectors")
        if len(ids) == 0:
            return
        if len(np.unique(ids)) != len(ids):
            raise GroundworkError("duplicate ids in one add")
        # Re-adding an id replaces its vector (a chunk re-embedded), never stores it twice.
        self.remove(ids)
        self._index.add_with_ids(matrix, ids)
        self._maybe_restructure()

    def remove(self, ids) -> int:
        ids = _as_ids(ids)
        if len(ids) == 0 or len(self) == 0:
            return 0
        # The IVF's hashtable direct map only accepts an explicit id array.
        selector = faiss.IDSelectorArray(ids) if self.kind == "ivf" else faiss.IDSelectorBatch(ids)
        removed = int(self._index.remove_ids(selector))
        if removed:
            self._maybe_restructure()
        return removed

    # --- queries -------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed_ids: set[int] | None = None) -> list[list[tuple[int, float]]]:
        queries = _as_matrix(query, self.dim)
        if k <= 0 or len(self) == 0 or (allowed_ids is not None and not allowed_ids):
            return [[] for _ in range(len(queries))]
        k = min(int(k), len(self))
        params: faiss.SearchParameters | None = None
        if isinstance(self._index, faiss.IndexIVF):
            nprobe = self.nprobe
            if allowed_ids is not None:
                # A filter keeps only a fraction of each probed list: probe proportionally more lists so
                # about as many allowed vectors are scanned as an unfiltered search scans.
                fraction = max(len(allowed_ids) / len(self), 1e-9)
                nprobe = min(self._index.nlist, math.ceil(self.nprobe / fraction))
            ivf_params = faiss.SearchParametersIVF()
            ivf_params.nprobe = nprobe
            params = ivf_params
        if allowed_ids is not None:
            selector = faiss.IDSelectorBatch(_as_ids(allowed_ids))
            if params is None:
                params = faiss.SearchParameters()
            params.sel = selector
            k = min(k, len(allowed_ids))
        if len(queries) < _PARALLEL_QUERIES:
            # A few queries: one thread. OpenMP workers spin-waiting on a busy machine made a single
            # exact search over 20k vectors ~100x slower (140 ms vs 1.4 ms, measured). The setting is
            # per calling thread, so concurrent searches do not interfere.
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, labels = self._index.search(queries, k, params=params)
            finally:
                faiss.omp_set_num_threads(threads)
        else:
            scores, labels = self._index.search(queries, k, params=params)
        return [
            [(int(label), float(score)) for label, score in zip(row_labels, row_scores) if label >= 0]
            for row_labels, row_scores in zip(labels, scores)
        ]

    def vectors(self, ids) -> dict[int, np.ndarray]:
        """The stored vector of each known id (unknown ids are left out); for MMR and diagnostics."""
        out: dict[int, np.ndarray] = {}
        for chunk_id in _as_ids(ids):
            try:
                # faiss's stub picks its torch overload for reconstruct(key); numpy in, numpy out.
                out[int(chunk_id)] = self._index.reconstruct(int(chunk_id))  # type: ignore[assignment]
            except RuntimeError:  # faiss raises for an id it does not hold
                continue
        return out

    def ids(self) -> np.ndarray:
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        if isinstance(self._index, faiss.IndexIDMap2):  # flat
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        invlists = self._index.invlists
        assert invlists is not None  # an IVF built or read here owns its lists
        parts = []
        for list_no in range(self._index.nlist):
            size = invlists.list_size(list_no)
            if size:
                parts.append(faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy())
        return np.concatenate(parts).astype(np.int64)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    # --- persistence ---------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dim: int, exact_below: int = 200_000, nprobe: int = 32) -> DenseIndex:
        path = Path(path)
        if not path.exists():
            raise GroundworkError(f"dense index {path} does not exist")
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise GroundworkError(f"dense index {path} has dimension {index.d}, expected {dim}")
        dense = cls(dim, exact_below=exact_below, nprobe=nprobe)
        # read_index already returns the concrete class; a second downcast wrapper would be freed twice.
        if isinstance(index, faiss.IndexIVF):
            index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # faiss's stub lacks DirectMap
            index.nprobe = nprobe
            dense._trained_on = int(index.ntotal)
        elif not isinstance(index, faiss.IndexIDMap2):
            raise GroundworkError(f"dense index {path} is not a Groundwork index ({type(index).__name__})")
        dense._index = index
        return dense
