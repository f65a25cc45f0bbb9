"""BM25 index (bm25s) keyed by chunk id, updated incrementally with a main segment, a delta segment and tombstones."""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
from bm25s.scoring import _build_idf_array, _build_scores_and_indices_for_matrix, _calculate_doc_freqs, _select_idf_scorer

from backend.models import GroundworkError
from backend.retrieval.index_files import fsync_tree, link_or_copy, recover_swap, swap_directory

# How incremental updates approximate BM25
# ----------------------------------------
# bm25s precomputes every (document, term) score with the collection's IDF and average document
# length baked in, so a document cannot be inserted into a built index. Instead:
#   * the main segment is a bm25s index over the texts present at the last merge, scored with the
#     statistics of exactly those texts;
#   * new texts go to a delta segment, rebuilt from only the delta texts, but scored with the
#     statistics of main + delta together (document count, document frequencies, mean length), so a
#     delta document scores on the same scale as a main document and a term new to the delta is rare;
#   * removed ids become tombstones: their rows stay in the segment and are filtered out at query time.
# The approximation: main scores ignore the delta's contribution to N, df and mean length, and every
# segment still counts tombstoned documents in its statistics. Both drift by at most the merge
# threshold: when the delta or the tombstones pass MERGE_FRACTION of the main segment, everything
# live is rebuilt into a new main segment, whose scores are then exactly those of a fresh build.
# Which documents match a query (score > 0) is never approximated, only their scores.
MERGE_FRACTION = 0.2
_TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")  # the scikit-learn / bm25s default token pattern
_FORMAT = 1


class _Analyzer:
    """Lower-case word tokens, minus stop words, stemmed: the same analysis for documents and queries."""

    def __init__(self, stemmer: str, stopwords: str):
        import Stemmer

        if stemmer.lower() in ("", "none"):
            self._stem = None
        elif stemmer.lower() in Stemmer.algorithms():
            self._stem = Stemmer.Stemmer(stemmer.lower()).stemWord
        else:
            raise GroundworkError(f"bm25_stemmer {stemmer!r} is not a PyStemmer language (or `none`)")
        if stopwords.lower() in ("", "none"):
            self._stopwords: frozenset[str] = frozenset()
        elif stopwords.lower() in ("en", "english"):
            self._stopwords = frozenset(bm25s.stopwords.STOPWORDS_EN)
        else:
            raise GroundworkError(f"bm25_stopwords {stopwords!r} is not supported: use `en` or `none`")
        self._stems: dict[str, str] = {}  # stemming dominates analysis time; words repeat a lot

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _TOKEN_PATTERN.findall(text.lower()) if w not in self._stopwords]
        if self._stem is None:
            return words
        stems = self._stems
        out = []
        for word in words:
            stem = stems.get(word)
            if stem is None:
                stem = stems[word] = self._stem(word)
            out.append(stem)
        return out


@dataclass
class _Background:
    """Corpus statistics a delta segment is scored with, on top of its own."""

    n_docs: int
    total_tokens: int
    doc_freq: dict[str, int]


class _SegmentBM25(bm25s.BM25):
    """A bm25s index whose IDF and mean length can include a background collection's statistics."""

    background: tuple[int, int, np.ndarray] | None = None  # (docs, tokens, df aligned with this vocab)

    def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=False, leave_progress=False):
        self.nonoccurrence_array = None  # only BM25L/BM25+ use one; segments are Lucene BM25
        local_df = _calculate_doc_freqs(corpus_token_ids, unique_token_ids, show_progress=False)
        n_docs = len(corpus_token_ids)
        total_tokens = sum(len(doc) for doc in corpus_token_ids)
        idf_df = local_df
        if self.background is not None:
            bg_docs, bg_tokens, bg_df = self.background
            n_docs += bg_docs
            total_tokens += bg_tokens
            idf_df = {token: count + int(bg_df[token]) for token, count in local_df.items()}
        idf = _build_idf_array(idf_df, n_docs, compute_idf_fn=_select_idf_scorer(self.idf_method), dtype=self.dtype)
        scores, rows, cols = _build_scores_and_indices_for_matrix(
            corpus_token_ids=corpus_token_ids,
            idf_array=idf,
            avg_doc_len=total_tokens / max(n_docs, 1),
            doc_frequencies=local_df,
            k1=self.k1,
            b=self.b,
            delta=self.delta,
            nonoccurrence_array=None,
            method=self.method,
            dtype=self.dtype,
            int_dtype=self.int_dtype,
            show_progress=False,
        )
        data, indices, indptr = self._np_csc(data=scores, rows=rows, cols=cols, shape=(len(corpus_token_ids), len(unique_token_ids)))
        return {"data": data.astype(self.dtype), "indices": indices, "indptr": indptr, "num_docs": len(corpus_token_ids)}


@dataclass
class _Segment:
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    texts: list[str] = field(default_factory=list)
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    model: _SegmentBM25 | None = None  # None: no rows, or no token in any row
    total_tokens: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dead(self) -> int:
        return int(len(self.alive) - self.alive.sum())


class LexicalIndex:
    """BM25 over chunk texts keyed by int64 chunk ids; keeps the texts so merges need no database."""

    def __init__(self, stemmer: str = "english", stopwords: str = "en", k1: float = 1.5, b: float = 0.75):
        self.stemmer, self.stopwords, self.k1, self.b = stemmer, stopwords, float(k1), float(b)
        self._analyze = _Analyzer(stemmer, stopwords)
        self._main = _Segment()
        self._delta = _Segment()
        self._delta_stale = False  # delta rows added since the delta model was built
        self._where: dict[int, tuple[bool, int]] = {}  # id -> (in delta?, row)
        self._main_generation = ""  # changes at every merge; lets save() reuse unchanged main files
        self._force_merge = False
        self._lock = threading.RLock()

    def set_params(self, k1: float, b: float) -> None:
        """Change k1/b; scores bake them in, so the next query or save rebuilds from the kept texts."""
        with self._lock:
            if (float(k1), float(b)) != (self.k1, self.b):
                self.k1, self.b = float(k1), float(b)
                self._force_merge = True

    # --- analysis ------------------------------------------------------------------------
    def tokenize_query(self, query: str) -> list[str]:
        """The query's terms as the index sees them (lower-cased, stop words dropped, stemmed)."""
        return self._analyze(query)

    # --- building segments ---------------------------------------------------------------
    def _build(self, texts: list[str], background: _Background | None) -> tuple[_SegmentBM25 | None, int]:
        vocab: dict[str, int] = {}
        corpus = [[vocab.setdefault(token, len(vocab)) for token in self._analyze(text)] for text in texts]
        total_tokens = sum(len(doc) for doc in corpus)
        if not vocab:
            return None, 0
        model = _SegmentBM25(k1=self.k1, b=self.b, method="lucene")
        if background is not None:
            bg_df = np.fromiter((background.doc_freq.get(token, 0) for token in vocab), dtype=np.int64, count=len(vocab))
            model.background = (background.n_docs, background.total_tokens, bg_df)
        model.index((corpus, vocab), create_empty_token=False, show_progress=False)
        return model, total_tokens

    def _main_background(self) -> _Background:
        model = self._main.model
        if model is None:
            return _Background(len(self._main), 0, {})
        # Every (doc, term) pair gets a positive Lucene score, so a column's entry count is the term's df.
        df_by_column = np.diff(model.scores["indptr"])
        doc_freq = {token: int(df_by_column[column]) for token, column in model.vocab_dict.items()}
        return _Background(len(self._main), self._main.total_tokens, doc_freq)

    def _merge(self) -> None:
        ids, texts = [], []
        for segment in (self._main, self._delta):
            for row in np.flatnonzero(segment.alive):
                ids.append(int(segment.ids[row]))
                texts.append(segment.texts[row])
        model, total_tokens = self._build(texts, None)
        self._main = _Segment(np.asarray(ids, dtype=np.int64), texts, np.ones(len(ids), dtype=bool), model, total_tokens)
        self._delta = _Segment()
        self._delta_stale = False
        self._force_merge = False
        self._where = {chunk_id: (False, row) for row, chunk_id in enumerate(ids)}
        self._main_generation = uuid.uuid4().hex

    def _rebuild_delta(self) -> None:
        keep = np.flatnonzero(self._delta.alive)
        ids = self._delta.ids[keep]
        texts = [self._delta.texts[row] for row in keep]
        model, total_tokens = self._build(texts, self._main_background())
        self._delta = _Segment(ids, texts, np.ones(len(ids), dtype=bool), model, total_tokens)
        self._delta_stale = False
        for row, chunk_id in enumerate(ids):
            self._where[int(chunk_id)] = (True, row)

    def _needs_merge(self) -> bool:
        main = len(self._main)
        if self._force_merge:
            return True
        if main == 0:
            return len(self._delta) > 0
        return len(self._delta) > MERGE_FRACTION * main or self._main.dead + self._delta.dead > MERGE_FRACTION * main

    def _materialize(self) -> None:
        """Bring the segments up to date; adds and removes only record, so a bulk ingest builds once."""
        if self._needs_merge():
            self._merge()
        elif self._delta_stale:
            self._rebuild_delta()

    # --- mutation ------------------------------------------------------------------------
    def add(self, ids, texts: list[str]) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        texts = list(texts)
        if len(ids) != len(texts):
            raise GroundworkError(f"{len(ids)} ids but {len(texts)} texts")
        if len(np.unique(ids)) != len(ids):
            raise GroundworkError("duplicate ids in one add")
        with self._lock:
            self.remove(ids)  # re-adding an id replaces its text
            start = len(self._delta)
            self._delta.ids = np.concatenate([self._delta.ids, ids])
            self._delta.texts.extend(texts)
            self._delta.alive = np.concatenate([self._delta.alive, np.ones(len(ids), dtype=bool)])
            for offset, chunk_id in enumerate(ids):
                self._where[int(chunk_id)] = (True, start + offset)
            self._delta_stale = True

    def remove(self, ids) -> int:
        removed = 0
        with self._lock:
            for chunk_id in np.asarray(list(ids) if isinstance(ids, (set, frozenset)) else ids, dtype=np.int64).reshape(-1):
                where = self._where.pop(int(chunk_id), None)
                if where is not None:
                    (self._delta if where[0] else self._main).alive[where[1]] = False
                    removed += 1
        return removed

    # --- queries -------------------------------------------------------------------------
    def _segment_hits(self, segment: _Segment, terms: list[str], k: int, allowed_rows: np.ndarray | None) -> list[tuple[int, float]]:
        model = segment.model
        if model is None:
            return []
        term_ids = [model.vocab_dict[t] for t in terms if t in model.vocab_dict]
        if not term_ids:
            return []
        scores = model.get_scores_from_ids(term_ids)
        keep = segment.alive if allowed_rows is None else segment.alive & allowed_rows
        candidates = np.flatnonzero((scores > 0) & keep)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        return [(int(segment.ids[row]), float(scores[row])) for row in candidates]

    def _allowed_rows(self, allowed_ids: set[int]) -> tuple[np.ndarray, np.ndarray]:
        main = np.zeros(len(self._main), dtype=bool)
        delta = np.zeros(len(self._delta), dtype=bool)
        if len(allowed_ids) * 8 < len(self._where):
            for chunk_id in allowed_ids:
                where = self._where.get(int(chunk_id))
                if where is not None:
                    (delta if where[0] else main)[where[1]] = True
        else:
            allowed = np.fromiter(allowed_ids, dtype=np.int64, count=len(allowed_ids))
            main = np.isin(self._main.ids, allowed)
            delta = np.isin(self._delta.ids, allowed)
        return main, delta

    def search(self, query: str, k: int, allowed_ids: set[int] | None = None) -> list[tuple[int, float]]:
        terms = self.tokenize_query(query)
        if k <= 0 or not terms:
            return []
        with self._lock:
            self._materialize()
            main_rows = delta_rows = None
            if allowed_ids is not None:
                main_rows, delta_rows = self._allowed_rows(allowed_ids)
            hits = self._segment_hits(self._main, terms, k, main_rows) + self._segment_hits(self._delta, terms, k, delta_rows)
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:k]

    def ids(self) -> np.ndarray:
        with self._lock:
            return np.fromiter(self._where.keys(), dtype=np.int64, count=len(self._where))

    def __len__(self) -> int:
        return len(self._where)

    def texts(self, ids) -> dict[int, str]:
        """The stored text of each known id."""
        out = {}
        with self._lock:
            for chunk_id in ids:
                where = self._where.get(int(chunk_id))
                if where is not None:
                    out[int(chunk_id)] = (self._delta if where[0] else self._main).texts[where[1]]
        return out

    def segment_sizes(self) -> dict[str, int]:
        with self._lock:
            return {"main": len(self._main), "delta": len(self._delta), "tombstones": self._main.dead + self._delta.dead}

    # --- persistence ---------------------------------------------------------------------
    # Layout: meta.json, {main,delta}/ (bm25s files), {main,delta}_ids.npy, {main,delta}_alive.npy,
    # {main,delta}_texts.jsonl. Written to a temp directory and swapped in by rename; main files
    # unchanged since the last save (same generation) are hard-linked instead of rewritten.
    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        with self._lock:
            self._materialize()
            tmp.mkdir()
            try:
                previous = _read_meta(path) if (path / "meta.json").exists() else {}
                reuse_main = bool(self._main_generation) and previous.get("main_generation") == self._main_generation
                self._write_segment(tmp, "main", self._main, reuse_from=path if reuse_main else None)
                self._write_segment(tmp, "delta", self._delta, reuse_from=None)
                meta = {
                    "format": _FORMAT,
                    "stemmer": self.stemmer,
                    "stopwords": self.stopwords,
                    "k1": self.k1,
                    "b": self.b,
                    "main_generation": self._main_generation,
                    "main_total_tokens": self._main.total_tokens,
                    "delta_total_tokens": self._delta.total_tokens,
                }
                (tmp / "meta.json").write_text(json.dumps(meta))
                fsync_tree(tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        swap_directory(tmp, path)

    @staticmethod
    def _write_segment(directory: Path, name: str, segment: _Segment, reuse_from: Path | None) -> None:
        np.save(directory / f"{name}_alive.npy", segment.alive)
        immutable = [f"{name}_ids.npy", f"{name}_texts.jsonl"]
        if reuse_from is not None:
            for file in immutable:
                link_or_copy(reuse_from / file, directory / file)
            if (reuse_from / name).exists():
                (directory / name).mkdir()
                for entry in (reuse_from / name).iterdir():
                    link_or_copy(entry, directory / name / entry.name)
            return
        np.save(directory / f"{name}_ids.npy", segment.ids)
        with open(directory / f"{name}_texts.jsonl", "w", encoding="utf-8") as handle:
            for text in segment.texts:
                handle.write(json.dumps(text, ensure_ascii=False))
                handle.write("\n")
        if segment.model is not None:
            segment.model.save(str(directory / name), show_progress=False)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        path = Path(path)
        recover_swap(path)
        if not (path / "meta.json").exists():
            raise GroundworkError(f"lexical index {path} does not exist or is incomplete (no meta.json)")
        meta = _read_meta(path)
        index = cls(meta["stemmer"], meta["stopwords"], meta["k1"], meta["b"])
        index._main = cls._read_segment(path, "main", meta["main_total_tokens"])
        index._delta = cls._read_segment(path, "delta", meta["delta_total_tokens"])
        index._main_generation = meta["main_generation"]
        for in_delta, segment in ((False, index._main), (True, index._delta)):
            for row in np.flatnonzero(segment.alive):
                index._where[int(segment.ids[row])] = (in_delta, int(row))
        return index

    @staticmethod
    def _read_segment(path: Path, name: str, total_tokens: int) -> _Segment:
        try:
            ids = np.load(path / f"{name}_ids.npy")
            alive = np.load(path / f"{name}_alive.npy")
            with open(path / f"{name}_texts.jsonl", encoding="utf-8") as handle:
                texts = [json.loads(line) for line in handle]
            model = None
            if (path / name).exists():
                model = _SegmentBM25.load(str(path / name), show_progress=False, verbosity=0)
        except (OSError, ValueError) as exc:
            raise GroundworkError(f"lexical index {path} is damaged ({name} segment): {exc}") from exc
        if not len(ids) == len(alive) == len(texts):
            raise GroundworkError(f"lexical index {path} is damaged: {name} segment files disagree in length")
        return _Segment(ids, texts, alive, model, int(total_tokens))


def _read_meta(path: Path) -> dict:
    meta = json.loads((path / "meta.json").read_text())
    if meta.get("format") != _FORMAT:
        raise GroundworkError(f"lexical index {path} has format {meta.get('format')}, this version reads {_FORMAT}")
    return meta
