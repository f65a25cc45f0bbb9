"""BEIR-format datasets: strict loading, document-level runs through the platform, ranx metrics."""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from backend.jsonl import json_objects
from backend.models import InputError, LoadedDocument

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
QRELS_HEADER = ("query-id", "corpus-id", "score")


@dataclass
class BeirDocument:
    id: str
    title: str
    text: str


@dataclass
class BeirDataset:
    name: str
    split: str
    corpus: list[BeirDocument]
    queries: dict[str, str]  # only the queries the split's qrels judge
    qrels: dict[str, dict[str, int]]

    def records(self) -> list[LoadedDocument]:
        """The corpus as ingestable documents; the source is the BEIR `_id`, which the run maps back to."""
        return [
            LoadedDocument(source=doc.id, title=doc.title, mime_type="text/plain", text=doc.text, metadata={"beir_id": doc.id})
            for doc in self.corpus
        ]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise InputError(f"{path}: missing (a BEIR dataset needs corpus.jsonl, queries.jsonl and qrels/<split>.tsv)")
    rows, seen = [], set()
    for number, row in json_objects(_read_text(path), lambda n: f"{path}:{n}", bad_json="malformed JSON"):
        for key in required:
            if key not in row or row[key] is None:
                raise InputError(f"{path}:{number}: missing `{key}`")
        if not isinstance(row["text"], str) or not isinstance(row.get("title", ""), (str, type(None))):
            raise InputError(f"{path}:{number}: `text` and `title` must be strings")
        row["_id"] = str(row["_id"])
        if row["_id"] in seen:
            raise InputError(f"{path}:{number}: duplicate _id {row['_id']!r}")
        seen.add(row["_id"])
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no records")
    return rows


def _qrels(path: Path, query_ids: set[str], doc_ids: set[str]) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise InputError(f"{path}: missing (qrels for this split)")
    qrels: dict[str, dict[str, int]] = {}
    # newline="" lets csv handle the CRLF line ends of the BEIR release.
    with io.StringIO(_read_text(path), newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(cell.strip() for cell in header) != QRELS_HEADER:
            raise InputError(f"{path}:1: header must be {' / '.join(QRELS_HEADER)} (tab-separated), got {header!r}")
        for row in reader:
            number = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 3:
                raise InputError(f"{path}:{number}: expected 3 tab-separated columns, got {len(row)}")
            query_id, doc_id, score = (cell.strip() for cell in row)
            try:
                relevance = int(score)
            except ValueError:
                raise InputError(f"{path}:{number}: score {score!r} is not an integer") from None
            if query_id not in query_ids:
                raise InputError(f"{path}:{number}: query-id {query_id!r} is not in queries.jsonl")
            if doc_id not in doc_ids:
                raise InputError(f"{path}:{number}: corpus-id {doc_id!r} is not in corpus.jsonl")
            qrels.setdefault(query_id, {})[doc_id] = relevance
    if not qrels:
        raise InputError(f"{path}: no judgements")
    return qrels


def load_beir(directory: Path, split: str = "test") -> BeirDataset:
    """Read and validate a BEIR dataset directory; errors name the file and line."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory (expected a BEIR dataset: corpus.jsonl, queries.jsonl, qrels/)")
    corpus_rows = _jsonl(directory / "corpus.jsonl", ("_id", "text"))
    query_rows = _jsonl(directory / "queries.jsonl", ("_id", "text"))
    corpus = [BeirDocument(row["_id"], (row.get("title") or "").strip(), row["text"]) for row in corpus_rows]
    all_queries = {row["_id"]: row["text"] for row in query_rows}
    qrels = _qrels(directory / "qrels" / f"{split}.tsv", set(all_queries), {doc.id for doc in corpus})
    queries = {query_id: all_queries[query_id] for query_id in qrels}
    return BeirDataset(directory.name, split, corpus, queries, qrels)


def document_ranking(ranked_documents: list[str], limit: int = 100) -> dict[str, float]:
    """A ranx run entry from documents best first (duplicates keep their best position)."""
    scores: dict[str, float] = {}
    for document in ranked_documents:
        if document not in scores and len(scores) < limit:
            scores[document] = float(limit - len(scores))  # strictly decreasing: ties would reorder
    return scores


def compute_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 with ranx (queries missing from the run score 0)."""
    from ranx import Qrels, Run, evaluate

    full_run = {query_id: dict(run.get(query_id, {})) for query_id in qrels}
    scores = evaluate(Qrels(qrels), Run(full_run), list(METRICS), make_comparable=True)
    return {name: float(scores[name]) for name in METRICS}


@dataclass
class BeirResult:
    dataset: str
    split: str
    mode: str
    collection: str
    metrics: dict[str, float]
    latencies_ms: list[float] = field(default_factory=list)
    indexed_documents: int = 0
    ingest_seconds: float = 0.0

    def to_dict(self) -> dict:
        latencies = np.asarray(self.latencies_ms or [0.0])
        return {
            **{name: round(value, 4) for name, value in self.metrics.items()},
            "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2),
            "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2),
            "queries": len(self.latencies_ms),
            "mode": self.mode,
            "split": self.split,
            "collection": self.collection,
            "documents": self.indexed_documents,
        }


def ensure_indexed(platform, dataset: BeirDataset, collection: str, progress: Callable | None = None) -> float:
    """Ingest the corpus unless the collection already holds all of it; returns the seconds spent ingesting.

    Opening the collection checks its manifest, so one built with other model or chunk settings is refused
    with a clear message rather than silently mixed.
    """
    if platform.corpus.has_collection(collection):
        platform.corpus.collection_index(collection)  # raises when built with other settings
        if platform.corpus.count_documents(collection) >= len(dataset.corpus):
            return 0.0
    started = time.perf_counter()
    # Re-ingesting an interrupted build is safe: documents already stored come back "unchanged".
    report = platform.corpus.ingest_records(collection, dataset.records(), progress=progress, label=f"beir {dataset.name}")
    if report.failed:
        first = report.failed[0]
        raise InputError(f"{len(report.failed)} BEIR document(s) failed to ingest, first {first.path}: {first.message}")
    return time.perf_counter() - started


def run_beir(
    platform,
    dataset: BeirDataset,
    collection: str,
    mode: str,
    depth_docs: int = 100,
    candidate_k: int | None = None,
    progress: Callable | None = None,
) -> BeirResult:
    """Index (or reuse) the corpus, run every judged query through platform.retriever.search, score documents by best chunk."""
    ingest_seconds = ensure_indexed(platform, dataset, collection, progress)
    sources = platform.corpus.document_source_map(collection)
    # Documents have a few chunks each: fetch enough chunks to fill `depth_docs` distinct documents.
    chunk_k = depth_docs * 3
    candidate_k = candidate_k or max(chunk_k, platform.settings.candidate_k)
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for query_id, text in dataset.queries.items():
        started = time.perf_counter()
        hits = platform.retriever.search(text, collection, mode, chunk_k, candidate_k=candidate_k)
        latencies.append((time.perf_counter() - started) * 1000.0)
        ranked = [sources[h.chunk.document_id] for h in hits if h.chunk is not None and h.chunk.document_id in sources]
        run[query_id] = document_ranking(ranked, depth_docs)
    return BeirResult(
        dataset=dataset.name,
        split=dataset.split,
        mode=mode,
        collection=collection,
        metrics=compute_metrics(dataset.qrels, run),
        latencies_ms=latencies,
        indexed_documents=len(sources),
        ingest_seconds=ingest_seconds,
    )
